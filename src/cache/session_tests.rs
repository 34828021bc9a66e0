//! The session, the account index, the telemetry outbox (F9) and pending step results (N5).

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::tests::{Device, START, demo, store_version};
use super::*;
use crate::clock::Clock;

pub(super) fn event(kind: &str, at: OffsetDateTime, duration_ms: Option<u64>) -> TelemetryEvent {
    TelemetryEvent {
        id: Uuid::new_v4(),
        kind: kind.to_owned(),
        at,
        guide_id: Some(crate::demo::GUIDE_ID),
        step_id: Some("lock-out".to_owned()),
        duration_ms,
    }
}

#[test]
fn telemetry_past_the_session_bound_is_summarised_not_dropped() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    store.set_telemetry_session_limit(3);
    let mut sessions = Vec::new();
    for n in 0..5 {
        let session = Uuid::new_v4();
        sessions.push(session);
        device.clock.advance(Duration::minutes(10));
        store.begin_app_session(session).unwrap();
        let at = device.clock.now();
        store
            .record_event(session, &event("session_start", at, None))
            .unwrap();
        for _ in 0..=n {
            store
                .record_event(session, &event("step_viewed", at, Some(1000)))
                .unwrap();
        }
    }
    let items = store.pending_telemetry(1000).unwrap();
    let summaries: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            OutboxItem::Summary(s) => Some(s),
            OutboxItem::Event(_) => None,
        })
        .collect();
    // Sessions 1 and 2 (1 + 2 step views, 2 starts) were folded, each when the bound was hit.
    assert_eq!(summaries.len(), 2);
    let total_sessions: u64 = summaries.iter().map(|s| s.sessions).sum();
    let total_views: u64 = summaries.iter().map(|s| s.by_kind["step_viewed"]).sum();
    let total_starts: u64 = summaries.iter().map(|s| s.by_kind["session_start"]).sum();
    let total_ms: u64 = summaries.iter().map(|s| s.duration_ms).sum();
    assert_eq!(
        (total_sessions, total_views, total_starts, total_ms),
        (2, 3, 2, 3000)
    );
    let events = items.len() - summaries.len();
    assert_eq!(events, (1 + 3) + (1 + 4) + (1 + 5));
    // Upload is idempotent: acknowledging the same ids twice removes them once.
    let ids: Vec<Uuid> = items.iter().map(OutboxItem::id).collect();
    assert_eq!(store.ack_telemetry(&ids).unwrap(), items.len());
    assert_eq!(store.ack_telemetry(&ids).unwrap(), 0);
    assert!(store.pending_telemetry(1000).unwrap().is_empty());
}

#[test]
fn recording_the_same_telemetry_event_twice_keeps_one() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let session = Uuid::new_v4();
    let viewed = event("step_viewed", START, Some(5));
    store.record_event(session, &viewed).unwrap();
    store.record_event(session, &viewed).unwrap();
    assert_eq!(
        store.pending_telemetry(10).unwrap(),
        vec![OutboxItem::Event(viewed)]
    );
}

#[test]
fn step_results_are_kept_until_the_service_takes_them_and_rejections_keep_their_reason() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let result = |step: &str| PendingResult {
        id: Uuid::new_v4(),
        guide_id: crate::demo::GUIDE_ID,
        version: 1,
        step_id: step.to_owned(),
        completed_at: START,
        value: Some(serde_json::json!({"torque_nm": 12})),
        rejected: None,
    };
    let (first, second) = (result("lock-out"), result("drain"));
    store.add_result(&first).unwrap();
    store.add_result(&first).unwrap();
    store.add_result(&second).unwrap();
    assert_eq!(
        store.pending_results().unwrap(),
        vec![first.clone(), second.clone()]
    );
    store.ack_results(&[first.id]).unwrap();
    store
        .reject_result(
            second.id,
            "permission_lost",
            "You may no longer record results here.",
        )
        .unwrap();
    let left = store.pending_results().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].rejected.as_ref().unwrap().code, "permission_lost");
    store.set_sync_state("profile_revision", "7").unwrap();
    assert_eq!(
        store.sync_state("profile_revision").unwrap().as_deref(),
        Some("7")
    );
    assert_eq!(store.sync_state("other").unwrap(), None);
}

#[test]
fn sign_out_clears_the_tokens_but_keeps_the_guides() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let stored = store_version(&store, &demo(1, None));
    let session = Session {
        refresh_token: Some("hgr_refresh".to_owned()),
        refresh_expires_at: Some(START + Duration::days(90)),
        access_token: Some("hga_access".to_owned()),
        access_expires_at: Some(START + Duration::hours(1)),
        last_online_sign_in: Some(START),
    };
    store.save_session(&session).unwrap();
    assert_eq!(device.open("alice").unwrap().session().unwrap(), session);
    store.sign_out().unwrap();
    let after = store.session().unwrap();
    assert_eq!(after.refresh_token, None);
    assert_eq!(after.access_token, None);
    assert_eq!(after.last_online_sign_in, Some(START));
    assert!(store.current(stored.guide_id).unwrap().is_some());
}

#[test]
fn the_last_account_used_online_is_in_the_device_index_without_any_token() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    store
        .save_session(&Session {
            refresh_token: Some("hgr_secret_refresh".to_owned()),
            ..Session::default()
        })
        .unwrap();
    store
        .remember_as_last_account(Some("Alice Martin"), Some("https://guides.example"))
        .unwrap();
    device.open("bob").unwrap();
    let index = DeviceIndex::load(device.dir.path()).unwrap();
    let last = index.last().unwrap();
    assert_eq!(last.user_id, "alice");
    assert_eq!(last.display_name.as_deref(), Some("Alice Martin"));
    assert_eq!(last.last_online_at, Some(START));
    let path = DeviceIndex::path(device.dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hgr_"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn accounts_signing_in_at_the_same_moment_all_keep_their_entry_in_the_index() {
    // Each thread opens its own lock file description, as another process would.
    let device = Device::new();
    std::thread::scope(|scope| {
        for n in 0..12 {
            let device = &device;
            scope.spawn(move || {
                let user = format!("user-{n}");
                let store = device.open(&user).unwrap();
                store
                    .remember_as_last_account(Some(&user), Some("http://127.0.0.1:1"))
                    .unwrap();
            });
        }
    });
    let index = DeviceIndex::load(device.dir.path()).unwrap();
    for n in 0..12 {
        let entry = index.account(&format!("user-{n}"));
        assert!(
            entry.is_some_and(|e| e.last_online_at.is_some()),
            "user-{n} lost: {index:?}"
        );
    }
}
