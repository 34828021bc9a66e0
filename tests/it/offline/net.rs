//! `net`: the API client's typed refusals, the connectivity monitor's timing (F2), and blob
//! downloads that resume, verify and refuse damaged content.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hologuide::app::shell::{Shell, ShellEvent};
use hologuide::app::{App, GuideSource};
use hologuide::net::download::{
    BlobSink, DownloadOptions, FolderSink, Progress, SinkError, Stored, Wanted, fetch_all,
};
use hologuide::net::limits::FREE_SPACE_MARGIN;
use hologuide::net::{
    ApiClient, ClientOptions, Connectivity, ConnectivityEvent, ConnectivitySettings, Link,
    NetError, Refusal,
};
use hologuide::scene::{CardFollower, Frame, PanelKind, Pose};

use super::*;

fn api(service: &Service) -> ApiClient {
    ApiClient::new(&service.url(), &ClientOptions::default()).unwrap()
}

fn sign_in(client: &ApiClient, user: &str) -> String {
    client
        .sign_in(user, &password(user), "test-device")
        .unwrap()
        .access_token
}

fn demo_id() -> uuid::Uuid {
    uuid::Uuid::parse_str(DEMO_ID).unwrap()
}

#[test]
fn refusals_of_the_service_come_back_typed_with_their_message() {
    let service = Service::start();
    let client = api(&service);
    let wrong = client
        .sign_in("alice", "not her password", "d")
        .unwrap_err();
    assert_eq!(wrong.refusal(), Some(Refusal::Unauthorized), "{wrong}");

    let bob = sign_in(&client, "bob");
    let forbidden = client.guide(&bob, demo_id()).unwrap_err();
    assert_eq!(forbidden.refusal(), Some(Refusal::Forbidden));
    assert!(forbidden.to_string().contains("permission"), "{forbidden}");

    service.admin(&["guide", "deactivate", DEMO_ID]);
    let alice = sign_in(&client, "alice");
    let gone = client.guide(&alice, demo_id()).unwrap_err();
    assert_eq!(gone.refusal(), Some(Refusal::Deactivated));
    assert!(gone.to_string().contains("deactivated"), "{gone}");
}

#[test]
fn n1_every_manifest_carries_the_lease_the_service_grants() {
    let service = Service::start_with(&["--offline-lease", "3600"]);
    let client = api(&service);
    let alice = sign_in(&client, "alice");
    let before = time::OffsetDateTime::now_utc();
    let manifest = client.manifest(&alice, demo_id(), 1).unwrap();
    let granted = manifest.lease_expires_at - before;
    assert!(
        (3590..=3610).contains(&granted.whole_seconds()),
        "lease of {granted}"
    );
}

#[test]
fn a_dead_server_is_a_network_error_not_a_refusal() {
    let mut service = Service::start();
    let client = api(&service);
    service.stop();
    let error = client.sign_in("alice", "x", "d").unwrap_err();
    assert!(error.is_network(), "{error}");
    assert!(error.to_string().contains("cannot be reached"), "{error}");
}

/// Waits for `wanted`, feeding every event to the app's shell as the frame loop does, and
/// checks that the scene then draws the banner exactly when offline.
fn wait_for(
    events: &mpsc::Receiver<ConnectivityEvent>,
    shell: &mut Shell,
    wanted: ConnectivityEvent,
) -> Duration {
    let started = Instant::now();
    loop {
        let left = Duration::from_secs(5).saturating_sub(started.elapsed());
        match events.recv_timeout(left) {
            Ok(event) => {
                let link = match event {
                    ConnectivityEvent::Online => Link::Online,
                    ConnectivityEvent::Offline => Link::Offline,
                };
                shell.handle(ShellEvent::Connectivity(link));
                if event == wanted {
                    assert_eq!(banner_drawn(shell), link == Link::Offline);
                    return started.elapsed();
                }
            }
            Err(_) => panic!("no {wanted:?} within 5 s"),
        }
    }
}

fn banner_drawn(shell: &Shell) -> bool {
    let guide = hologuide::demo::load().unwrap().guide;
    let app = App::open(std::sync::Arc::new(guide), GuideSource::Demo, None);
    let view = app.view();
    let input = shell.scene_input(&view, Pose::standing(), &[], false, 0.0);
    Frame::build(&input, &mut CardFollower::default(), 0.0)
        .panels
        .iter()
        .any(|p| p.kind == PanelKind::OfflineBanner)
}

#[test]
fn f2_offline_banner_within_1_s_of_a_failed_request_and_gone_within_1_s_of_recovery() {
    let mut service = Service::start();
    let client = api(&service);
    let probe_client = client.clone();
    let (sender, events) = mpsc::channel();
    let monitor = Connectivity::spawn(
        move |timeout| {
            !probe_client
                .health(timeout)
                .is_err_and(|e: NetError| e.is_network())
        },
        ConnectivitySettings::default(),
        sender,
    );
    assert_eq!(monitor.link(), Link::Online);
    let mut shell = Shell::new(monitor.link());
    assert!(!banner_drawn(&shell));

    service.stop();
    // A real request fails: the banner must not wait for the next probe (5 s away online).
    let failed = client.guides("any");
    let failed_at = Instant::now();
    assert!(failed.as_ref().is_err_and(NetError::is_network));
    monitor.reporter().report(&failed);
    wait_for(&events, &mut shell, ConnectivityEvent::Offline);
    let to_offline = failed_at.elapsed();
    assert!(to_offline < Duration::from_secs(1), "{to_offline:?}");
    assert_eq!(monitor.link(), Link::Offline);

    // Let the probes back off to their cap, as after a long outage.
    std::thread::sleep(Duration::from_millis(1500));
    service.resume();
    let back_at = Instant::now();
    wait_for(&events, &mut shell, ConnectivityEvent::Online);
    let to_online = back_at.elapsed();
    assert!(to_online < Duration::from_secs(1), "{to_online:?}");
    assert_eq!(monitor.link(), Link::Online);
}

/// Publishes a guide with a picture of `bytes` and returns alice's token and its blobs.
fn big_guide(service: &Service, bytes: usize) -> (ApiClient, String, Vec<Wanted>) {
    let id = "6a1f0c2e-1111-4c3b-9d2e-5f6a7b8c9d01";
    let package = guide_package(service.dir.path(), id, "Big guide", "m1", bytes);
    service.publish(&package);
    service.admin(&["guide", "grant", id, "--user", "alice"]);
    let client = api(service);
    let alice = sign_in(&client, "alice");
    let manifest = client
        .manifest(&alice, uuid::Uuid::parse_str(id).unwrap(), 1)
        .unwrap();
    let wanted = manifest
        .assets
        .iter()
        .map(|a| Wanted {
            sha256: a.sha256.clone(),
            bytes: a.bytes,
        })
        .collect();
    (client, alice, wanted)
}

fn server_blob(service: &Service, sha256: &str) -> PathBuf {
    service.data().join("blobs").join(&sha256[..2]).join(sha256)
}

#[test]
fn a_broken_download_resumes_where_it_stopped_and_verifies_the_whole() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 3 << 20);
    let sink = FolderSink::new(service.dir.path().join("staging")).unwrap();
    let blob = &wanted[0];
    let original = std::fs::read(server_blob(&service, &blob.sha256)).unwrap();
    let half = original.len() / 2;
    std::fs::write(sink.partial_path(&blob.sha256), &original[..half]).unwrap();
    let first = Mutex::new(None::<Progress>);
    let progress = |p: Progress| {
        let mut first = first.lock().unwrap();
        if first.is_none() && p.done > 0 {
            *first = Some(p);
        }
    };
    fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &progress,
    )
    .unwrap();
    assert_eq!(std::fs::read(sink.path(&blob.sha256)).unwrap(), original);
    // The first progress counts the half already there: it was not fetched again.
    let first = first.lock().unwrap().unwrap();
    assert_eq!(first.done, half as u64, "{first:?}");

    // A partial copy whose bytes are wrong is caught by the hash over the whole and discarded.
    std::fs::remove_file(sink.path(&blob.sha256)).unwrap();
    let mut wrong = original[..half].to_vec();
    wrong[10] ^= 0xff;
    let part = sink.partial_path(&blob.sha256);
    std::fs::write(&part, &wrong).unwrap();
    let error = fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(error, NetError::Integrity { .. }), "{error}");
    assert!(!part.exists() && !sink.path(&blob.sha256).exists());
    // …and the next attempt starts over and succeeds.
    fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(std::fs::read(sink.path(&blob.sha256)).unwrap(), original);
}

#[test]
fn a_tampered_blob_from_the_network_is_rejected() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 1 << 20);
    let on_server = server_blob(&service, &wanted[0].sha256);
    let mut bytes = std::fs::read(&on_server).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&on_server, &bytes).unwrap();
    let sink = FolderSink::new(service.dir.path().join("staging")).unwrap();
    let error = fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(error, NetError::Integrity { .. }), "{error}");
    assert!(error.to_string().contains("damaged"), "{error}");
    assert!(!sink.path(&wanted[0].sha256).exists());
}

#[test]
fn a_truncated_blob_from_the_network_is_rejected() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 1 << 20);
    let on_server = server_blob(&service, &wanted[0].sha256);
    let bytes = std::fs::read(&on_server).unwrap();
    std::fs::write(&on_server, &bytes[..bytes.len() - 1000]).unwrap();
    let sink = FolderSink::new(service.dir.path().join("staging")).unwrap();
    let error = fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    // The server promised more than it sent: either the connection breaks off or the length
    // check refuses it; in no case is the blob taken as complete.
    assert!(
        matches!(
            error,
            NetError::Integrity { .. } | NetError::Unreachable { .. }
        ),
        "{error}"
    );
    assert!(!sink.path(&wanted[0].sha256).exists());
}

#[test]
fn a_download_reports_progress_up_to_the_total_and_respects_a_rate_limit() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 1 << 20);
    let total: u64 = wanted.iter().map(|w| w.bytes).sum();
    let last = Mutex::new(Progress::default());
    let started = Instant::now();
    fetch_all(
        &client,
        &alice,
        &FolderSink::new(service.dir.path().join("staging")).unwrap(),
        &wanted,
        &DownloadOptions {
            concurrency: 2,
            max_rate: Some(4 << 20),
            ..DownloadOptions::default()
        },
        &|p| *last.lock().unwrap() = p,
    )
    .unwrap();
    let last = *last.lock().unwrap();
    assert_eq!(last, Progress { done: total, total });
    // 1 MiB at 4 MiB/s: at least a fifth of a second.
    assert!(started.elapsed() >= Duration::from_millis(200));
}

/// S5: the device stops a download (sign-out, the app closing) between two reads: it ends
/// with the reason, what arrived stays, and the next download resumes from there.
#[test]
fn a_download_stopped_by_the_device_keeps_what_arrived_and_resumes() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 4 << 20);
    let total: u64 = wanted.iter().map(|w| w.bytes).sum();
    let sink = FolderSink::new(service.dir.path().join("staging")).unwrap();
    let options = DownloadOptions {
        concurrency: 1,
        // 1 MiB/s: the download takes seconds, so it is stopped in the middle.
        max_rate: Some(1 << 20),
        ..DownloadOptions::default()
    };
    let stop = options.stop.clone();
    let error = fetch_all(&client, &alice, &sink, &wanted, &options, &|p| {
        if p.done >= 1 << 20 {
            stop.raise();
        }
    })
    .unwrap_err();
    assert!(matches!(error, NetError::Stopped), "{error}");
    assert_eq!(
        error.to_string(),
        "the download was stopped on this device; what arrived is kept for the next time"
    );
    let kept: u64 = wanted
        .iter()
        .filter_map(|w| std::fs::metadata(sink.partial_path(&w.sha256)).ok())
        .map(|m| m.len())
        .sum();
    assert!(
        kept >= 1 << 20 && kept < total,
        "{kept} of {total} bytes kept"
    );

    // The blob that was cut resumes at its kept length: the first progress after the start
    // is those bytes, found on disk, not downloaded again.
    let cut: Vec<Wanted> = wanted
        .iter()
        .filter(|w| sink.partial_path(&w.sha256).exists())
        .cloned()
        .collect();
    assert_eq!(cut.len(), 1, "one blob was in flight");
    let seen = Mutex::new(Vec::new());
    fetch_all(
        &client,
        &alice,
        &sink,
        &cut,
        &DownloadOptions::default(),
        &|p| seen.lock().unwrap().push(p.done),
    )
    .unwrap();
    assert_eq!(seen.lock().unwrap()[..2], [0, kept]);
    fetch_all(
        &client,
        &alice,
        &sink,
        &wanted,
        &DownloadOptions::default(),
        &|_| {},
    )
    .unwrap();
    for w in &wanted {
        assert!(sink.path(&w.sha256).exists());
    }
}

/// A staging folder on a disk with `free` bytes left, as the download sees it.
struct NearlyFullDisk {
    folder: FolderSink,
    free: u64,
}

impl BlobSink for NearlyFullDisk {
    fn stored(&self, sha256: &str, bytes: u64) -> Result<Stored, SinkError> {
        self.folder.stored(sha256, bytes)
    }
    fn append(&self, sha256: &str, offset: u64, data: &[u8]) -> Result<(), SinkError> {
        self.folder.append(sha256, offset, data)
    }
    fn finish(&self, sha256: &str) -> Result<(), SinkError> {
        self.folder.finish(sha256)
    }
    fn discard(&self, sha256: &str) -> Result<(), SinkError> {
        self.folder.discard(sha256)
    }
    fn available(&self) -> Result<u64, SinkError> {
        Ok(self.free)
    }
}

#[test]
fn a_download_that_would_not_fit_on_the_disk_is_refused_before_a_byte_is_written() {
    let service = Service::start();
    let (client, alice, wanted) = big_guide(&service, 1 << 20);
    let total: u64 = wanted.iter().map(|w| w.bytes).sum();
    let staging = service.dir.path().join("staging");
    let mut disk = NearlyFullDisk {
        folder: FolderSink::new(&staging).unwrap(),
        // Room for the guide, but not for the guide and the margin the device keeps.
        free: FREE_SPACE_MARGIN + total - 1,
    };
    let options = DownloadOptions::default();
    let error = fetch_all(&client, &alice, &disk, &wanted, &options, &|_| {}).unwrap_err();
    assert!(matches!(error, NetError::NoRoom { .. }), "{error}");
    assert!(error.to_string().contains("free some space"), "{error}");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);

    disk.free = FREE_SPACE_MARGIN + total;
    fetch_all(&client, &alice, &disk, &wanted, &options, &|_| {}).unwrap();
    assert!(disk.folder.path(&wanted[0].sha256).exists());
}
