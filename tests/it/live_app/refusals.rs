//! Refusals: the same rules and texts as `hologuide open`, before any window or runtime is
//! needed.

use std::process::Output;

use hologuide::app::access::Refused;

use super::*;
use crate::offline::{DEMO_ID, GUIDE_A, Service, small_guide};
use crate::support::*;

/// Not signed in, not cached: refused with the shell's exact texts (exit 1) before any window
/// or runtime is needed; a GUIDE that is nothing at all is refused input (exit 2).
#[test]
fn run_of_a_guide_that_cannot_open_says_why_and_exits_non_zero() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let no_display =
        |args: &[&str]| -> Output { run(client(device.path(), args).env_remove("DISPLAY")) };
    let other = GUIDE_A;

    let nobody = no_display(&["run", "--backend", "window", other]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(
        stderr(&nobody).contains(&Refused::NotSignedIn.to_string()),
        "{}",
        stderr(&nobody)
    );

    login(device.path(), &service, "alice");
    service.stop();
    let not_cached = no_display(&["run", "--backend", "window", other]);
    assert_eq!(not_cached.status.code(), Some(1));
    let expected = Refused::NotCached {
        username: "alice".into(),
    }
    .to_string();
    assert!(
        stderr(&not_cached).contains(&expected),
        "{}",
        stderr(&not_cached)
    );
    assert!(!stderr(&not_cached).contains("panicked"));

    // Refused input: exit code 2, as for a malformed link elsewhere.
    let nonsense = no_display(&["run", "--backend", "window", "no/such/package-or-link"]);
    assert_eq!(nonsense.status.code(), Some(2));
    let text = stderr(&nonsense);
    assert!(
        text.contains("no guide package (no such file or folder)"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");

    let wrong_backend = no_display(&["run", "--size", "800x500", DEMO_ID]);
    assert_eq!(wrong_backend.status.code(), Some(1));
    assert!(
        stderr(&wrong_backend).contains("--size do(es) not apply to --backend openxr"),
        "{}",
        stderr(&wrong_backend)
    );
}

/// A service with guide A (not the demo guide: that one opens without an account, F8), and a
/// device where alice signed in and opened it, so it is cached.
fn alice_with_guide_a_cached() -> (Service, tempfile::TempDir) {
    let service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let opened = run(&mut client(device.path(), &["open", GUIDE_A, "--json"]));
    assert!(opened.status.success(), "{}", stderr(&opened));
    (service, device)
}

/// The device clock `days` from now, as `HOLOGUIDE_CLOCK_OVERRIDE` takes it.
fn days_from_now(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// N1, F10, F14 in the 3D app: a cached guide whose lease is over, an account whose 90 days
/// are over, and a guide whose permission was lost are refused with the rules' own words,
/// online and offline, as `hologuide open` refuses them.
#[test]
fn n1_f10_f14_run_refuses_a_cached_guide_with_the_reason_the_rules_give() {
    let (mut service, device) = alice_with_guide_a_cached();
    let run_at = |days: i64| -> Output {
        run(
            client(device.path(), &["run", "--backend", "window", GUIDE_A])
                .env_remove("DISPLAY")
                .env("HOLOGUIDE_CLOCK_OVERRIDE", days_from_now(days)),
        )
    };
    let refused = |output: &Output, words: &[&str]| {
        assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
        let text = stderr(output);
        for word in words {
            assert!(text.contains(word), "{word:?} in {text}");
        }
        assert!(!text.contains("panicked"), "{text}");
    };
    service.stop();
    // N1: the service's default lease is 30 days.
    refused(
        &run_at(40),
        &["may be opened offline only until", "that time has passed"],
    );
    // F10: 90 days after the last online sign-in.
    refused(&run_at(100), &["90 days after your last online sign-in"]);

    // F14: online the service refuses, offline the cached copy remembers its words.
    service.resume();
    service.admin(&["guide", "revoke", GUIDE_A, "--user", "alice"]);
    let online = run_at(0);
    refused(&online, &["permission"]);
    service.stop();
    let offline = run_at(0);
    refused(&offline, &["permission"]);
    let words = |o: &Output| stderr(o).lines().last().unwrap_or_default().to_owned();
    assert_eq!(words(&online), words(&offline));
}

/// One state, one message (F10): 90 days after the last online sign-in, `open` of a cached
/// guide, `run` of it and `status` give the same reason, not "No one is signed in".
#[test]
fn f10_after_90_days_open_run_and_status_say_the_same_reason() {
    let (mut service, device) = alice_with_guide_a_cached();
    service.stop();
    let at = days_from_now(100);
    let at_100_days = |args: &[&str]| -> Output {
        run(client(device.path(), args)
            .env_remove("DISPLAY")
            .env("HOLOGUIDE_CLOCK_OVERRIDE", &at))
    };
    let status = at_100_days(&["status"]);
    let reason = stdout(&status)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.starts_with("Your offline access as alice ended on")
            && reason.contains("90 days after your last online sign-in"),
        "{reason}"
    );
    let last_line = |o: &Output| {
        stderr(o)
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    let open = at_100_days(&["open", GUIDE_A]);
    assert_eq!(open.status.code(), Some(1), "{}", stderr(&open));
    assert_eq!(last_line(&open), format!("error: {reason}"));
    let shown = at_100_days(&["run", "--backend", "window", GUIDE_A]);
    assert_eq!(shown.status.code(), Some(1), "{}", stderr(&shown));
    assert_eq!(last_line(&shown), format!("error: {reason}"));
}
