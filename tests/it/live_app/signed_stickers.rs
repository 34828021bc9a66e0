//! N2, signed stickers, offline: the service signs a guide's link with its organisation's key
//! (`hologuide-server guide link … --out DIR` writes the printable sticker); the device gets the
//! public keys with its session and checks stickers offline. A valid signed sticker opens its
//! guide; a forged signature, an altered step or guide, an unknown key and a retired key are
//! refused with the reason on the card; unsigned stickers are refused once the organisation
//! requires signatures. Headless, against the real `hologuide-server` on 127.0.0.1 (stopped:
//! offline).

use std::path::Path;

use serde_json::Value;

use super::sticker::{GUIDE_B, GUIDE_C, guide_a_offline_with, publish};
use super::*;
use crate::offline::{GUIDE_A, Service, small_guide};
use crate::support::*;

/// The organisation the test guides are published under.
const ORG: &str = "hologuide-demo";

/// Guide A offline, the camera looking at `sticker`: the PNG a service wrote, or a code of a
/// payload.
fn guide_a_offline_seeing(device: &Path, sticker: Sticker<'_>) -> Value {
    let photos = tempfile::tempdir().unwrap();
    let photo = photos.path().join("sticker.png");
    match sticker {
        Sticker::File(path) => {
            std::fs::copy(path, &photo).unwrap();
        }
        Sticker::Payload(text) => write_code_png(&photo, text),
    }
    let camera = format!("files:{}", photos.path().display());
    guide_a_offline_with(device, 200, &["--camera", &camera])
}

enum Sticker<'a> {
    File(&'a Path),
    Payload(&'a str),
}

fn assert_refused(report: &Value, refusal: &str) {
    assert_eq!(
        report["statuses"].as_array().and_then(|s| s.last()),
        Some(&Value::from(refusal)),
        "{report:#}"
    );
    assert_eq!(report["guides_opened"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["final_guide"], "Valve check", "{report:#}");
}

#[test]
fn n2_signed_stickers_open_offline_and_forged_altered_unknown_retired_or_unsigned_ones_do_not() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    small_guide(&service, GUIDE_A, "one");
    publish(&service, GUIDE_B, "Water pump");
    publish(&service, GUIDE_C, "Cooling fan");
    let stickers = tempfile::tempdir().unwrap();
    let made = service.admin(&[
        "guide",
        "link",
        GUIDE_B,
        "--step",
        "2",
        "--out",
        stickers.path().to_str().unwrap(),
    ]);
    let link = made["link"].as_str().expect("a link").to_owned();
    assert!(
        link.starts_with(&format!("hologuide://{ORG}/g/{GUIDE_B}/s/2?k=")),
        "{link}"
    );
    assert_eq!(made["label"], "Water pump — step 2");
    let png = stickers.path().join(format!("{GUIDE_B}-s2.png"));
    assert!(stickers.path().join(format!("{GUIDE_B}-s2.svg")).is_file());
    login(device.path(), &service, "alice");
    for guide in [GUIDE_A, GUIDE_B, GUIDE_C] {
        let opened = run(&mut client(device.path(), &["open", guide, "--json"]));
        assert!(opened.status.success(), "{}", stderr(&opened));
    }
    service.stop();

    // The printed sticker, as the service wrote it: opens offline at its step.
    let report = guide_a_offline_seeing(device.path(), Sticker::File(&png));
    assert_eq!(
        report["guides_opened"],
        serde_json::json!(["Water pump — version 1: step 2 of 2"]),
        "{report:#}"
    );

    // The same sticker edited: another step, another guide, a changed signature.
    let (unsigned, signature) = link.split_once("?k=").unwrap();
    let key = signature.split('&').next().unwrap().to_owned();
    for forged in [
        link.replace("/s/2?", "/s/1?"),
        link.replace(GUIDE_B, GUIDE_C),
        {
            // A character inside the signature (the last one holds padding bits, which would
            // make it a malformed link rather than a wrong signature).
            let at = link.len() - 10;
            let other = if &link[at..=at] == "A" { "B" } else { "A" };
            format!("{}{other}{}", &link[..at], &link[at + 1..])
        },
    ] {
        let report = guide_a_offline_seeing(device.path(), Sticker::Payload(&forged));
        assert_refused(
            &report,
            &format!(
                "This sticker's signature is not valid: it was not made by {ORG}, or was \
                 changed. Do not use it."
            ),
        );
    }

    // A signature that is no signature at all (truncated): refused as a damaged sticker.
    let truncated = &link[..link.len() - 20];
    let report = guide_a_offline_seeing(device.path(), Sticker::Payload(truncated));
    assert_refused(
        &report,
        "This sticker's signature is damaged or made up. Do not use it.",
    );

    // Signed by a key the organisation never had.
    let stranger = hologuide::guide::link_trust::SigningKey::from_pkcs8(
        &hologuide::guide::link_trust::SigningKey::generate().unwrap(),
    )
    .unwrap();
    let foreign = stranger.sign(&hologuide::guide::GuideLink::parse(unsigned).unwrap());
    let report = guide_a_offline_seeing(device.path(), Sticker::Payload(&foreign.to_string()));
    assert_refused(
        &report,
        "This sticker is signed with a key this device does not know. Sign in while online to \
         update the keys, then look at it again.",
    );

    // The organisation retires the key and requires signatures; the device signs in again.
    service.admin(&["links", "retire", &key, "--org", ORG]);
    service.admin(&["links", "require", "signed", "--org", ORG]);
    service.resume();
    login(device.path(), &service, "alice");
    service.stop();
    let report = guide_a_offline_seeing(device.path(), Sticker::File(&png));
    assert_refused(
        &report,
        &format!("This sticker was signed with a key {ORG} has retired. Ask for a new sticker."),
    );
    let report = guide_a_offline_seeing(device.path(), Sticker::Payload(unsigned));
    assert_refused(
        &report,
        &format!("This sticker is not signed, and {ORG} accepts only signed stickers."),
    );
}
