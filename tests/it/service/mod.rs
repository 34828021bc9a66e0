//! The guide service over real HTTP: the `hologuide-server` binary on an ephemeral 127.0.0.1
//! port, a real reqwest client, real files. No mock of our own API anywhere.

mod accounts;
mod anonymous;
mod blobs;
mod cli;
mod connections;
mod crash;
mod database;
mod guides;
mod ingest;
mod instances;
mod leaks;
mod load;
mod migrate;
mod photos;
mod profiles;
mod runs;
mod signed_links;
mod tenancy;
mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::support::repo;

pub const DEMO_ID: &str = "5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d";
pub const DEMO_ORG: &str = "hologuide-demo";

/// The admin command line of the service.
pub fn server_cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hologuide-server"));
    command.env_remove("RUST_LOG");
    command
}

/// The admin command line for the data folder `data`, on the store the suite runs against: the
/// folder's SQLite database, or with `$HOLOGUIDE_TEST_DATABASE` (a PostgreSQL URL; `scripts/test`
/// starts one) a PostgreSQL database of the folder's own there (see [`database`]).
pub fn server_cli_on(data: &Path) -> Command {
    let mut command = server_cli();
    if let Some(url) = database::for_folder(data) {
        command.env("HOLOGUIDE_DATABASE_URL", url);
    }
    command
}

/// The server binary on the PostgreSQL database at `url`, whatever store the suite runs on.
pub fn on_postgres(url: &str) -> Command {
    let mut command = server_cli();
    command.env("HOLOGUIDE_DATABASE_URL", url);
    command
}

/// Runs `command` with `args` and `--json`, which must succeed; its JSON output.
pub fn json_of(mut command: Command, args: &[&str]) -> Value {
    let output = command
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "hologuide-server {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// Runs an admin command against `data` and returns its output (any exit status).
/// `hologuide-server runs export --guide GUIDE` (CSV, the default) on the data folder `data`.
pub fn runs_csv(data: &Path, guide: &str) -> String {
    let output = server_cli_on(data)
        .args(["runs", "export", "--guide", guide, "--data"])
        .arg(data)
        .output()
        .expect("hologuide-server runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 CSV")
}

pub fn admin(data: &Path, args: &[&str]) -> Output {
    server_cli_on(data)
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .expect("hologuide-server runs")
}

/// Runs an admin command that must succeed and returns its `--json` output.
pub fn admin_json(data: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--data", data.to_str().expect("a UTF-8 temp path")]);
    json_of(server_cli_on(data), &all)
}

/// Adds a user of the demo guide's organisation.
pub fn add_user(data: &Path, name: &str, role: &str, groups: &[&str]) {
    add_user_of(data, DEMO_ORG, name, role, groups);
}

pub fn add_user_of(data: &Path, organisation: &str, name: &str, role: &str, groups: &[&str]) {
    let mut args = vec![
        "user",
        "add",
        name,
        "--role",
        role,
        "--organisation",
        organisation,
    ];
    args.push("--password");
    let password = password(name);
    args.push(&password);
    for group in groups {
        args.extend(["--group", group]);
    }
    admin_json(data, &args);
}

pub fn password(user: &str) -> String {
    format!("password-of-{user}")
}

/// A running `hologuide-server serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Self::start_on(data, "127.0.0.1:0", extra)
    }

    /// Listens on a given address: a restarted server must come back where devices look for it.
    pub fn start_on(data: &Path, listen: &str, extra: &[&str]) -> Server {
        Self::start_with(server_cli_on(data), data, listen, extra)
    }

    /// `command` (the server binary, with its environment) serving `data`.
    pub fn start_with(mut command: Command, data: &Path, listen: &str, extra: &[&str]) -> Server {
        let mut child = command
            .args(["serve", "--listen", listen, "--data"])
            .arg(data)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hologuide-server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, base }
    }

    /// Signs `user` in (test password) and returns the access token.
    pub fn access_token(&self, http: &Client, user: &str) -> String {
        let session: Value = http
            .post(self.url("/v1/session"))
            .json(&json!({ "username": user, "password": password(user), "device_id": "d" }))
            .send()
            .expect("the server answers")
            .json()
            .expect("a JSON session");
        session["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most resident memory the server process has used so far (VmHWM), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        crate::support::process_memory_bytes(self.child.id(), "VmHWM")
            .expect("the server's VmHWM in /proc/<pid>/status")
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.child.wait().expect("the server exits")
    }

    /// SIGKILL: no chance to clean up, as in a power cut or an OOM kill.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a reqwest client")
}

/// A data folder with users admin, author, alice (operator in group line-1) and bob (operator),
/// the demo guide published by author (version 1), and a server running on it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub http: Client,
}

impl Fixture {
    pub fn new() -> Fixture {
        Self::with_server_args(&[])
    }

    pub fn with_server_args(extra: &[&str]) -> Fixture {
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
        let server = Server::start(&data, extra);
        Fixture {
            dir,
            server,
            http: client(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn restart(&mut self, extra: &[&str]) {
        let data = self.data();
        let old = std::mem::replace(&mut self.server, Server::start(&data, extra));
        old.kill();
    }

    pub fn sign_in_raw(&self, user: &str, password: &str, device: &str) -> Response {
        self.http
            .post(self.url("/v1/session"))
            .json(&json!({ "username": user, "password": password, "device_id": device }))
            .send()
            .expect("the server answers")
    }

    /// Trades a refresh token (as it came in the session JSON) for a new pair.
    pub fn refresh(&self, refresh_token: &Value) -> Response {
        self.http
            .post(self.url("/v1/session/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .expect("the server answers")
    }

    /// Signs in and returns the session JSON (tokens, user).
    pub fn session(&self, user: &str, device: &str) -> Value {
        let response = self.sign_in_raw(user, &password(user), device);
        assert_eq!(response.status(), 201, "signing in as {user}");
        response.json().expect("a JSON session")
    }

    pub fn token(&self, user: &str) -> String {
        self.session(user, &format!("{user}-headset"))["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    pub fn get(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    /// `POST /v1/guides` with a zipped package as the body.
    pub fn publish(&self, token: &str, zip: Vec<u8>) -> Response {
        self.post(token, "/v1/guides")
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .expect("the server answers")
    }

    pub fn grant_demo_to(&self, who: &str, name: &str) {
        admin_json(
            &self.data(),
            &["guide", "grant", DEMO_ID, &format!("--{who}"), name],
        );
    }
}

/// The demo guide's `guide.json`.
pub fn demo_guide_json() -> Value {
    serde_json::from_slice(&std::fs::read(repo().join("assets/demo/guide.json")).unwrap()).unwrap()
}

/// A copy of the demo package under `dir/name` with its `guide.json` changed by `edit`.
pub fn edited_demo_package(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let package = dir.join(name);
    crate::support::copy_dir(&repo().join("assets/demo"), &package);
    let mut guide = demo_guide_json();
    edit(&mut guide);
    std::fs::write(
        package.join("guide.json"),
        serde_json::to_vec_pretty(&guide).unwrap(),
    )
    .unwrap();
    package
}

/// A folder zipped into `<folder>.zip`, as the bytes of a publish body.
pub fn zipped(package: &Path) -> Vec<u8> {
    let archive = package.with_extension("zip");
    crate::support::zip_dir(package, &archive);
    std::fs::read(archive).unwrap()
}

/// Status and JSON body of a response; the body of every refusal must be JSON.
pub fn status_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().expect("a body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, body)
}

/// Asserts a refusal: the status and the machine-readable `error` code, with a message to show.
pub fn assert_refused(response: Response, status: u16, code: &str) -> Value {
    let (actual, body) = status_json(response);
    assert_eq!(actual, status, "{body:#}");
    assert_eq!(body["error"], code, "{body:#}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a refusal carries a message to show: {body:#}"
    );
    body
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
