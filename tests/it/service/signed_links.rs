//! N2 on the service: each organisation's link keys, stickers' links signed with the newest,
//! rotation and retirement, and what a device is given with its session — its own
//! organisation's public keys only (N4), never a private key.

use super::*;

const RIVAL_ORG: &str = "rival-works";

fn link_of(fixture: &Fixture, args: &[&str]) -> String {
    let mut all = vec!["guide", "link", DEMO_ID];
    all.extend_from_slice(args);
    admin_json(&fixture.data(), &all)["link"]
        .as_str()
        .expect("a link")
        .to_owned()
}

fn key_of(link: &str) -> String {
    link.split("k=").nth(1).unwrap()[..16].to_owned()
}

#[test]
fn a_signed_link_names_the_signing_key_and_devices_get_their_organisations_keys_with_the_session() {
    let fixture = Fixture::new();
    add_user_of(&fixture.data(), RIVAL_ORG, "rival", "operator", &[]);
    admin_json(&fixture.data(), &["links", "rotate", "--org", RIVAL_ORG]);

    let first = link_of(&fixture, &["--step", "3", "--anchor", "nameplate"]);
    assert!(
        first.starts_with(&format!(
            "hologuide://{DEMO_ORG}/g/{DEMO_ID}/s/3?anchor=nameplate&k="
        )),
        "{first}"
    );
    let parsed = hologuide::guide::GuideLink::parse(&first).expect("a valid link");
    let signing = key_of(&first);

    let session = fixture.session("alice", "tablet-1");
    let keys = session["link_trust"]["keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert_eq!(keys.len(), 1, "only hologuide-demo's key: {session:#}");
    assert_eq!(keys[0]["organisation"], DEMO_ORG);
    assert_eq!(keys[0]["key_id"], signing.as_str());
    assert_eq!(keys[0]["retired"], false);
    assert!(keys[0].get("private_key").is_none());
    let text = session.to_string();
    assert!(!text.contains("private"), "{text}");

    // The device's check, with what the session gave it.
    let public = hex::decode(keys[0]["public_key"].as_str().unwrap()).unwrap();
    let trust = hologuide::guide::link_trust::LinkTrust {
        keys: vec![hologuide::guide::link_trust::LinkKey {
            organisation: DEMO_ORG.into(),
            key_id: signing.clone(),
            public_key: public,
            retired: false,
        }],
        signatures_required: Vec::new(),
    };
    assert_eq!(trust.check(&parsed), Ok(()));

    // Rotation: new stickers use the new key, the old one stays valid until retired.
    let rotated = admin_json(&fixture.data(), &["links", "rotate", "--org", DEMO_ORG]);
    let second = link_of(&fixture, &[]);
    assert_eq!(key_of(&second), rotated["signing_key"].as_str().unwrap());
    admin_json(
        &fixture.data(),
        &["links", "retire", &signing, "--org", DEMO_ORG],
    );
    admin_json(
        &fixture.data(),
        &["links", "require", "signed", "--org", DEMO_ORG],
    );
    let session = fixture.session("alice", "tablet-1");
    let keys = session["link_trust"]["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "{session:#}");
    let retired: Vec<(&str, bool)> = keys
        .iter()
        .map(|k| {
            (
                k["key_id"].as_str().unwrap(),
                k["retired"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(retired.contains(&(signing.as_str(), true)), "{retired:?}");
    assert_eq!(
        session["link_trust"]["signatures_required"],
        serde_json::json!([DEMO_ORG])
    );

    // The rival organisation's device sees only its own key.
    let rival = fixture.session("rival", "rival-tablet");
    let keys = rival["link_trust"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["organisation"], RIVAL_ORG);
    assert_eq!(
        rival["link_trust"]["signatures_required"],
        serde_json::json!([])
    );
}

#[test]
fn a_sticker_for_a_step_or_anchor_the_guide_lacks_is_refused_with_a_clear_error() {
    let fixture = Fixture::new();
    for (args, expected) in [
        (vec!["--step", "99"], "has no step 99 (it has 9)"),
        (vec!["--anchor", "back"], "has no anchor 'back'"),
    ] {
        let mut all = vec!["guide", "link", DEMO_ID];
        all.extend(args);
        let output = admin(&fixture.data(), &all);
        assert!(!output.status.success());
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(log.contains(expected), "{log}");
    }
    let output = admin(
        &fixture.data(),
        &["links", "retire", "0123456789abcdef", "--org", DEMO_ORG],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no link key 0123456789abcdef"));
}
