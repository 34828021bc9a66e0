//! Rules that depend on time, checked with a fixed clock on a real database in a temp folder.

use std::sync::{Arc, Mutex};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Config, DataLocation, Membership, PackageOrigin, Service};

const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
use crate::service::clock::FixedClock;
use crate::service::error::ServiceError;
use crate::service::model::{Caller, ProfileSpec, Role, User};

struct Setup {
    _dir: tempfile::TempDir,
    clock: Arc<FixedClock>,
    service: Service,
    admin: User,
}

fn setup(start: OffsetDateTime) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock(Mutex::new(start)));
    let location = DataLocation::folder(dir.path());
    Service::init(&location).unwrap();
    let service = Service::open(&location, Config::default(), clock.clone()).unwrap();
    let admin = service
        .add_user(
            "admin",
            "admin-password",
            Role::Admin,
            &Membership::of(crate::demo::ORGANISATION),
            &[],
        )
        .unwrap();
    Setup {
        _dir: dir,
        clock,
        service,
        admin,
    }
}

impl Setup {
    fn set_time(&self, at: OffsetDateTime) {
        *self.clock.0.lock().unwrap() = at;
    }

    fn caller(&self) -> Caller {
        Caller {
            user: self.admin.clone(),
            session_id: Uuid::nil(),
            device_id: "test-device".into(),
        }
    }
}

#[test]
fn s3_a_profile_keeps_only_guides_published_within_its_date_filter_10_days_by_default_or_30() {
    let setup = setup(datetime!(2026-11-01 08:00 UTC));
    let demo = crate::demo::package_dir().unwrap();
    setup
        .service
        .publish(&demo, PackageOrigin::Local, &setup.admin)
        .unwrap();
    let spec = ProfileSpec {
        name: Some("line-1".into()),
        guide_ids: Some(vec![crate::demo::GUIDE_ID]),
        ..ProfileSpec::default()
    };
    setup
        .service
        .create_profile(crate::demo::ORGANISATION, &spec)
        .unwrap();
    setup
        .service
        .add_profile_member(crate::demo::ORGANISATION, "line-1", "admin")
        .unwrap();

    setup.set_time(datetime!(2026-11-10 08:00 UTC));
    let manifest = setup.service.profile_manifest(&setup.caller()).unwrap();
    assert_eq!(manifest.modified_within_days, Some(10), "S3 default");
    assert_eq!(manifest.guides.len(), 1, "published 9 days ago");

    setup.set_time(datetime!(2026-11-12 08:00 UTC));
    let manifest = setup.service.profile_manifest(&setup.caller()).unwrap();
    assert!(manifest.guides.is_empty(), "published 11 days ago");
    assert_eq!(manifest.total_bytes, 0);

    let thirty_days = ProfileSpec {
        modified_within_days: Some(Some(30)),
        ..ProfileSpec::default()
    };
    setup
        .service
        .update_profile(crate::demo::ORGANISATION, "line-1", &thirty_days)
        .unwrap();
    let manifest = setup.service.profile_manifest(&setup.caller()).unwrap();
    assert_eq!(manifest.modified_within_days, Some(30));
    assert_eq!(manifest.guides.len(), 1, "11 days ago is within 30");
    setup.set_time(datetime!(2026-12-02 08:00 UTC));
    let manifest = setup.service.profile_manifest(&setup.caller()).unwrap();
    assert!(manifest.guides.is_empty(), "published 31 days ago");

    let no_filter = ProfileSpec {
        modified_within_days: Some(None),
        ..ProfileSpec::default()
    };
    setup
        .service
        .update_profile(crate::demo::ORGANISATION, "line-1", &no_filter)
        .unwrap();
    let manifest = setup.service.profile_manifest(&setup.caller()).unwrap();
    assert_eq!(manifest.guides.len(), 1);
}

#[test]
fn a_refresh_within_90_days_rolls_the_window_and_one_after_is_refused() {
    let start = datetime!(2026-01-01 00:00 UTC);
    let setup = setup(start);
    let session = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap();
    setup.set_time(start + Duration::days(89));
    let renewed = setup.service.refresh(&session.refresh_token).unwrap();
    assert_eq!(
        renewed.refresh_expires_at,
        start + Duration::days(89 + 90),
        "F10: 90 days from the last online contact"
    );
    setup.set_time(start + Duration::days(89 + 91));
    let error = setup.service.refresh(&renewed.refresh_token).unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::Unauthorized {
                code: "refresh_expired",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn an_access_token_stops_working_when_its_lifetime_ends() {
    let start = datetime!(2026-01-01 00:00 UTC);
    let setup = setup(start);
    let session = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap();
    let ttl = Config::default().access_token_ttl;
    setup.set_time(start + ttl - Duration::seconds(1));
    assert!(setup.service.authenticate(&session.access_token).is_ok());
    setup.set_time(start + ttl);
    let error = setup
        .service
        .authenticate(&session.access_token)
        .unwrap_err();
    assert_eq!(error.code(), "token_expired");
}

/// The stores keep whole seconds; a failure at 0.9 s must not have its 1 s wait end at 1.0 s.
#[test]
fn a_wait_is_not_shortened_by_the_stores_whole_seconds() {
    let start = datetime!(2026-01-01 00:00:00.9 UTC);
    let setup = setup(start);
    for _ in 0..5 {
        setup
            .service
            .sign_in("admin", "wrong-password", "hl2", LOOPBACK)
            .unwrap_err();
    }
    setup.set_time(start + Duration::milliseconds(500));
    let error = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap_err();
    assert_eq!(error.code(), "too_many_attempts", "{error}");
}

#[test]
fn after_five_failed_sign_ins_each_attempt_waits_longer_and_success_resets() {
    let start = datetime!(2026-01-01 00:00 UTC);
    let setup = setup(start);
    for _ in 0..5 {
        let error = setup
            .service
            .sign_in("admin", "wrong-password", "hl2", LOOPBACK)
            .unwrap_err();
        assert_eq!(error.code(), "invalid_credentials");
    }
    let error = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::TooManyAttempts {
                retry_after_secs: 1
            }
        ),
        "even the right password waits: {error}"
    );
    setup.set_time(start + Duration::seconds(1));
    setup
        .service
        .sign_in("admin", "wrong-password", "hl2", LOOPBACK)
        .unwrap_err();
    let error = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServiceError::TooManyAttempts {
                retry_after_secs: 2
            }
        ),
        "the wait doubles: {error}"
    );
    setup.set_time(start + Duration::seconds(3));
    assert!(
        setup
            .service
            .sign_in("admin", "admin-password", "hl2", LOOPBACK)
            .is_ok()
    );
    let error = setup
        .service
        .sign_in("admin", "wrong-password", "hl2", LOOPBACK)
        .unwrap_err();
    assert_eq!(
        error.code(),
        "invalid_credentials",
        "success reset the count"
    );
}

#[test]
fn the_wait_between_attempts_is_capped() {
    use super::sign_in::{FREE_ATTEMPTS, MAX_WAIT, wait_after};
    assert_eq!(wait_after(4, FREE_ATTEMPTS), Duration::ZERO);
    assert_eq!(wait_after(5, FREE_ATTEMPTS), Duration::seconds(1));
    assert_eq!(wait_after(8, FREE_ATTEMPTS), Duration::seconds(8));
    assert_eq!(wait_after(40, FREE_ATTEMPTS), MAX_WAIT);
    assert_eq!(wait_after(u32::MAX, FREE_ATTEMPTS), MAX_WAIT);
}

fn is_invalid_token(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Unauthorized {
            code: "invalid_token",
            ..
        }
    )
}

#[test]
fn a_refresh_repeated_within_the_grace_period_gets_the_same_pair_and_the_session_continues() {
    let start = datetime!(2026-03-01 08:00 UTC);
    let setup = setup(start);
    let session = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap();
    setup.set_time(start + Duration::hours(1));
    let first = setup.service.refresh(&session.refresh_token).unwrap();
    // The device was killed before saving `first`; it retries with the token it still has.
    setup.set_time(start + Duration::hours(1) + Duration::seconds(59));
    let again = setup.service.refresh(&session.refresh_token).unwrap();
    assert_eq!(again.refresh_token, first.refresh_token);
    assert_eq!(again.access_token, first.access_token);
    assert_eq!(again.refresh_expires_at, first.refresh_expires_at);
    assert_ne!(first.refresh_token, session.refresh_token);
    // The same session continues with the pair it saved the second time.
    let caller = setup.service.authenticate(&again.access_token).unwrap();
    assert_eq!(caller.user.username, "admin");
    let next = setup.service.refresh(&again.refresh_token).unwrap();
    // Once the new token is itself rotated, the old one is spent even within the period.
    let spent = setup.service.refresh(&session.refresh_token).unwrap_err();
    assert!(is_invalid_token(&spent), "{spent}");
    assert!(setup.service.authenticate(&next.access_token).is_ok());
    assert!(setup.service.authenticate(&first.access_token).is_err());
}

#[test]
fn a_rotated_refresh_token_presented_after_the_grace_period_is_refused() {
    let start = datetime!(2026-03-01 08:00 UTC);
    let setup = setup(start);
    let session = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap();
    let first = setup.service.refresh(&session.refresh_token).unwrap();
    setup.set_time(start + Duration::seconds(61));
    let late = setup.service.refresh(&session.refresh_token).unwrap_err();
    assert!(is_invalid_token(&late), "{late}");
    // A clock that went backwards does not reopen the window either.
    setup.set_time(start - Duration::seconds(5));
    let early = setup.service.refresh(&session.refresh_token).unwrap_err();
    assert!(is_invalid_token(&early), "{early}");
    // The refusal does not disturb the device that saved the new pair.
    setup.set_time(start + Duration::seconds(62));
    assert!(setup.service.refresh(&first.refresh_token).is_ok());
    // Nor does a signed-out session come back through the grace period.
    let other = setup
        .service
        .sign_in("admin", "admin-password", "hl2-b", LOOPBACK)
        .unwrap();
    let renewed = setup.service.refresh(&other.refresh_token).unwrap();
    let caller = setup.service.authenticate(&renewed.access_token).unwrap();
    setup.service.sign_out(&caller).unwrap();
    let revoked = setup.service.refresh(&other.refresh_token).unwrap_err();
    assert!(
        matches!(
            revoked,
            ServiceError::Unauthorized {
                code: "token_revoked",
                ..
            }
        ),
        "{revoked}"
    );
}

#[test]
fn a_known_devices_failures_slow_that_device_only_and_others_failures_do_not_slow_it() {
    let start = datetime!(2026-01-01 00:00 UTC);
    let setup = setup(start);
    setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap();
    let elsewhere = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    for _ in 0..30 {
        let _ = setup
            .service
            .sign_in("admin", "wrong-password", "laptop", elsewhere);
    }
    assert!(
        setup
            .service
            .sign_in("admin", "admin-password", "hl2", elsewhere)
            .is_ok(),
        "the known device gets in wherever it is"
    );
    for _ in 0..super::sign_in::FREE_ATTEMPTS {
        setup
            .service
            .sign_in("admin", "wrong-password", "hl2", LOOPBACK)
            .unwrap_err();
    }
    let error = setup
        .service
        .sign_in("admin", "admin-password", "hl2", LOOPBACK)
        .unwrap_err();
    assert_eq!(error.code(), "too_many_attempts", "{error}");
}

/// Found by the load test (issue 21): a result checked while the database failed (PostgreSQL
/// restarting) was answered as rejected in a 200, so the device dropped it for good. The
/// service's own failure fails the request, and the device sends the result again.
#[test]
fn a_result_checked_while_the_database_fails_fails_the_request_instead_of_being_rejected() {
    let setup = setup(datetime!(2026-11-24 08:00 UTC));
    let demo = crate::demo::package_dir().unwrap();
    setup
        .service
        .publish(&demo, PackageOrigin::Local, &setup.admin)
        .unwrap();
    let result = crate::service::model::StepResult {
        id: Uuid::new_v4(),
        guide_id: crate::demo::GUIDE_ID,
        version: 1,
        step_id: "lock-out".into(),
        completed_at: datetime!(2026-11-24 08:05 UTC),
        value: None,
    };
    // The step lookup's table gone: the store fails, as a database that went away does.
    let database = setup._dir.path().join(super::DATABASE_FILE);
    rusqlite::Connection::open(&database)
        .unwrap()
        .execute_batch("ALTER TABLE version_steps RENAME TO version_steps_gone")
        .unwrap();
    let error = setup
        .service
        .ingest_results(&setup.caller(), std::slice::from_ref(&result))
        .expect_err("the request fails; the result is not rejected");
    assert_eq!(error.code(), "internal", "{error}");
}
