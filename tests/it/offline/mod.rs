//! The offline-first client (F1–F14, N1) against the real `hologuide-server` on 127.0.0.1:
//! going offline is stopping the server, coming back is starting it again on the same port.

mod background;
mod cli;
mod flows;
mod hostile_service;
mod lost_access;
mod net;
mod results_kill;
mod session;
mod sync;

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::service::{Server, add_user, admin_json};
use crate::support::repo;

pub use crate::service::{DEMO_ID, password};

/// A service data folder with admin, author, alice (operator, group line-1) and bob (operator),
/// the demo guide published and granted to line-1, and a server that can be stopped and started
/// again on the same port.
pub struct Service {
    pub dir: tempfile::TempDir,
    server: Option<Server>,
    listen: String,
    extra: Vec<String>,
}

impl Service {
    pub fn start() -> Service {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Service {
        let dir = tempfile::tempdir().expect("a temp dir");
        let data = dir.path().join("data");
        admin_json(&data, &["init"]);
        add_user(&data, "admin", "admin", &[]);
        add_user(&data, "author", "author", &[]);
        add_user(&data, "alice", "operator", &["line-1"]);
        add_user(&data, "bob", "operator", &[]);
        let demo = repo().join("assets/demo");
        admin_json(
            &data,
            &["guide", "publish", demo.to_str().unwrap(), "--as", "author"],
        );
        admin_json(&data, &["guide", "grant", DEMO_ID, "--group", "line-1"]);
        let server = Server::start(&data, extra);
        let listen = server
            .base
            .strip_prefix("http://")
            .expect("plain HTTP on loopback")
            .to_owned();
        Service {
            dir,
            server: Some(server),
            listen,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// The network goes away: the server is killed, its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
    }

    /// The network comes back: the server listens on the same port again.
    pub fn resume(&mut self) {
        if self.server.is_none() {
            let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
            self.server = Some(Server::start_on(&self.data(), &self.listen, &extra));
        }
    }

    pub fn admin(&self, args: &[&str]) -> serde_json::Value {
        admin_json(&self.data(), args)
    }

    /// Publishes a package folder as author; returns the manifest JSON.
    pub fn publish(&self, package: &Path) -> serde_json::Value {
        self.admin(&[
            "guide",
            "publish",
            package.to_str().unwrap(),
            "--as",
            "author",
        ])
    }
}

/// Writes a guide package with one media picture of about `picture_bytes` bytes (a real PNG of
/// noise, so it does not compress) and returns its folder. `marker` goes into every step's text,
/// so tests can look for it.
pub fn guide_package(
    root: &Path,
    id: &str,
    title: &str,
    marker: &str,
    picture_bytes: usize,
) -> PathBuf {
    let dir = root.join(format!("package-{id}-{marker}"));
    std::fs::create_dir_all(dir.join("media")).unwrap();
    let side = ((picture_bytes / 3) as f64).sqrt().ceil().max(1.0) as u32;
    // Another marker, another picture: every version has content of its own to download.
    let mut state: u64 = marker
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15 ^ picture_bytes as u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        | 1;
    let pixels: Vec<u8> = (0..side * side * 3)
        .map(|_| {
            // xorshift: noise that the PNG encoder cannot shrink.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let image = image::RgbImage::from_raw(side, side, pixels).unwrap();
    let file = std::fs::File::create(dir.join("media/picture.png")).unwrap();
    image::codecs::png::PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(image.as_raw(), side, side, image::ExtendedColorType::Rgb8)
    .unwrap();
    let guide = json!({
        "schema_version": 1,
        "id": id,
        "version": 1,
        "title": title,
        "organisation": crate::service::DEMO_ORG,
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{
            "id": "t",
            "title": "The task",
            "steps": [
                { "id": "s1", "title": format!("First step {marker}"),
                  "body": format!("Check the valve {marker}."),
                  "media": { "path": "media/picture.png" } },
                { "id": "s2", "title": format!("Second step {marker}"),
                  "body": format!("Close the cover {marker}.") }
            ]
        }]
    });
    std::fs::write(
        dir.join("guide.json"),
        serde_json::to_string_pretty(&guide).unwrap(),
    )
    .unwrap();
    dir
}

use image::ImageEncoder as _;

/// A device (its own data folder and device secret) with a clock tests can move.
pub struct TestDevice {
    pub dir: tempfile::TempDir,
    pub keys: std::sync::Arc<hologuide::cache::MemoryKeyStore>,
    pub clock: std::sync::Arc<hologuide::clock::FixedClock>,
}

impl TestDevice {
    pub fn new() -> TestDevice {
        TestDevice {
            dir: tempfile::tempdir().expect("a temp dir"),
            keys: std::sync::Arc::new(hologuide::cache::MemoryKeyStore::new()),
            clock: std::sync::Arc::new(hologuide::clock::FixedClock::new(
                time::OffsetDateTime::now_utc(),
            )),
        }
    }

    pub fn config(&self) -> hologuide::client::DeviceConfig {
        hologuide::client::DeviceConfig::new(self.dir.path(), self.keys.clone(), self.clock.clone())
    }

    /// The app as it starts: a fresh `Device` over the same data, secret and clock.
    pub fn launch(&self) -> hologuide::client::Device {
        hologuide::client::Device::new(self.config()).expect("the device opens")
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.advance(time::Duration::days(days));
    }
}

/// A small guide (a 20 kB picture), published and granted to alice; returns its id.
pub fn small_guide(service: &Service, id: &str, marker: &str) -> uuid::Uuid {
    let package = guide_package(service.dir.path(), id, "Valve check", marker, 20_000);
    service.publish(&package);
    service.admin(&["guide", "grant", id, "--user", "alice"]);
    uuid::Uuid::parse_str(id).unwrap()
}

pub const GUIDE_A: &str = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";

pub fn no_progress(_: hologuide::net::download::Progress) {}

/// Alice's step results as the service keeps them (`GET /v1/me/results`, duplicates included).
pub fn alices_results(service: &Service) -> Vec<serde_json::Value> {
    let api = hologuide::net::ApiClient::new(&service.url(), &Default::default()).unwrap();
    let token = api
        .sign_in("alice", &password("alice"), "results-check")
        .unwrap()
        .access_token;
    reqwest::blocking::Client::new()
        .get(format!("{}/v1/me/results", service.url()))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Signs alice in on `device` against `service`.
pub fn sign_in_alice(device: &mut hologuide::client::Device, service: &Service) {
    device
        .sign_in(Some(&service.url()), "alice", &password("alice"))
        .expect("alice signs in");
}

/// Every step's title and body, to compare versions.
pub fn texts(opened: &hologuide::client::Opened) -> String {
    opened
        .guide
        .steps()
        .map(|p| format!("{}\n{}\n", p.step.title, p.step.body))
        .collect()
}
