use time::macros::datetime;

use super::*;

fn account(last_online: OffsetDateTime) -> RememberedAccount {
    RememberedAccount {
        user_id: Uuid::nil(),
        username: "alice".into(),
        last_online_sign_in: last_online,
        signed_out: false,
    }
}

fn cached(lease: OffsetDateTime, verdict: ServiceVerdict) -> CachedGuideFacts {
    CachedGuideFacts {
        lost_access: LostAccess::LockOnSync,
        title: "Pump filter".into(),
        lease_expires_at: lease,
        verdict,
    }
}

const T0: OffsetDateTime = datetime!(2026-11-25 08:00 UTC);

#[test]
fn f5_signing_in_offline_is_refused_with_the_exact_reason() {
    assert_eq!(may_sign_in(Link::Online), Ok(()));
    let refused = may_sign_in(Link::Offline).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Signing in needs a network connection. You can keep using the guides on this device; \
         sign in again when the network is back."
    );
}

#[test]
fn f4_started_offline_signs_in_the_last_account() {
    let last = account(T0);
    let signed_in = offline_sign_in(Some(&last), T0 + Duration::days(3), Some(T0)).unwrap();
    assert_eq!(signed_in.username, "alice");
}

#[test]
fn f4_no_automatic_sign_in_after_sign_out_or_without_any_account() {
    let mut last = account(T0);
    last.signed_out = true;
    assert_eq!(
        offline_sign_in(Some(&last), T0, None),
        Err(Refused::NotSignedIn)
    );
    assert_eq!(offline_sign_in(None, T0, None), Err(Refused::NotSignedIn));
}

#[test]
fn f10_offline_use_ends_90_days_after_the_last_online_sign_in() {
    let last = account(T0);
    let just_inside = T0 + Duration::days(90) - Duration::seconds(1);
    assert!(offline_sign_in(Some(&last), just_inside, Some(T0)).is_ok());
    let over = offline_sign_in(Some(&last), T0 + Duration::days(90), Some(T0)).unwrap_err();
    assert!(matches!(over, Refused::OfflineWindowOver { .. }));
    assert!(over.to_string().contains("sign in again"), "{over}");
}

#[test]
fn f10_the_window_rolls_with_every_online_sign_in() {
    let refreshed = account(T0 + Duration::days(80));
    assert!(offline_sign_in(Some(&refreshed), T0 + Duration::days(150), None).is_ok());
}

#[test]
fn n1_a_clock_moved_back_is_treated_as_expired_until_online() {
    let last = account(T0);
    let seen = T0 + Duration::days(10);
    let rolled_back = T0 + Duration::days(2);
    assert_eq!(
        offline_sign_in(Some(&last), rolled_back, Some(seen)),
        Err(Refused::ClockRolledBack)
    );
    let guide = cached(T0 + Duration::days(30), ServiceVerdict::Open);
    assert_eq!(
        may_open_offline(&guide, rolled_back, Some(seen)),
        Err(Refused::ClockRolledBack)
    );
    // NTP corrections of a minute are not a roll-back.
    assert!(may_open_offline(&guide, seen - Duration::minutes(1), Some(seen)).is_ok());
}

#[test]
fn n1_an_expired_lease_does_not_open_offline() {
    let guide = cached(T0 + Duration::days(30), ServiceVerdict::Open);
    assert!(may_open_offline(&guide, T0 + Duration::days(29), Some(T0)).is_ok());
    let refused = may_open_offline(&guide, T0 + Duration::days(30), Some(T0)).unwrap_err();
    assert!(matches!(refused, Refused::LeaseExpired { .. }));
    assert!(refused.to_string().contains("'Pump filter'"), "{refused}");
}

#[test]
fn f13_f14_the_services_refusal_is_shown_offline_too() {
    let lease = T0 + Duration::days(30);
    for verdict in [
        ServiceVerdict::Deactivated("the guide 'Pump filter' was deactivated".into()),
        ServiceVerdict::PermissionLost("you do not have permission".into()),
    ] {
        let message = match &verdict {
            ServiceVerdict::Deactivated(m) | ServiceVerdict::PermissionLost(m) => m.clone(),
            ServiceVerdict::Open => unreachable!(),
        };
        let refused = may_open_offline(&cached(lease, verdict), T0, None).unwrap_err();
        assert_eq!(refused.to_string(), message);
    }
}

#[test]
fn s6_keep_offline_lets_a_refused_copy_open_offline_within_its_lease_and_lock_on_sync_does_not() {
    let lease = T0 + Duration::days(30);
    let refused = |policy| CachedGuideFacts {
        lost_access: policy,
        ..cached(
            lease,
            ServiceVerdict::PermissionLost("you do not have permission".into()),
        )
    };
    assert_eq!(
        may_open_offline(&refused(LostAccess::KeepOffline), T0, None),
        Ok(())
    );
    assert!(may_open_offline(&refused(LostAccess::LockOnSync), T0, None).is_err());
    // The lease still holds (N1): keep-offline is no way around it.
    let after = lease + Duration::hours(1);
    assert!(matches!(
        may_open_offline(&refused(LostAccess::KeepOffline), after, None),
        Err(Refused::LeaseExpired { .. })
    ));
}

#[test]
fn f11_offline_the_app_is_read_only_and_says_so() {
    assert_eq!(may_edit(Link::Online), Ok(()));
    let refused = may_edit(Link::Offline).unwrap_err();
    assert!(refused.to_string().contains("offline"), "{refused}");
}

#[test]
fn f3_all_list_says_exactly_no_guides_are_available_offline() {
    assert_eq!(
        all_list_lines(&[]),
        vec!["No guides are available offline."]
    );
    let entry = AllListEntry {
        guide_id: Uuid::nil(),
        title: "Pump filter".into(),
        version: 3,
        downloaded_at: T0,
        opens_offline: true,
        note: None,
    };
    assert_eq!(
        all_list_lines(&[entry]),
        vec!["Pump filter — version 3, downloaded 2026-11-25 08:00 UTC"]
    );
}
