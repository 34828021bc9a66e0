//! The device secret in the OS keyring (issue 8), against a real Secret Service: Debian's
//! gnome-keyring-daemon (secrets component, login keyring unlocked with a fixed password) on a
//! private `dbus-daemon --session`, both started per test and stopped at its end. The keyring's
//! files live in a temporary home, so "the service is back" is a new daemon on the same files.
//! Entries are looked at from outside with `secret-tool` (libsecret-tools).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::offline::{DEMO_ID, Service, password};
use crate::support::{hologuide, stderr, stdout};

const UNLOCK_PASSWORD: &str = "hologuide-test-keyring";
const NOT_ANSWERING: &str =
    "the device secret is kept in the OS keyring (secret service), which does not answer";

/// A home folder holding a login keyring; `start` runs a bus and a secret service on it.
struct KeyringHome {
    dir: tempfile::TempDir,
}

impl KeyringHome {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        for sub in ["home", "run"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::set_permissions(dir.path().join(sub), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        Self { dir }
    }

    fn start(&self) -> SecretService {
        let (bus, address) = start_bus(&self.dir.path().join("run"));
        let home = self.dir.path().join("home");
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("gnome-keyring.log")).unwrap())
            .spawn()
            .expect("gnome-keyring-daemon runs (scripts/setup installs it)");
        // The password creates the login keyring the first time and unlocks it afterwards.
        {
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(UNLOCK_PASSWORD.as_bytes()).unwrap();
        }
        let service = SecretService {
            bus,
            daemon,
            address,
            log: self.dir.path().join("gnome-keyring.log"),
        };
        service.wait_for_login_keyring();
        service
    }
}

/// A private session bus listening in `dir`: its process and address.
fn start_bus(dir: &Path) -> (Child, String) {
    let socket = dir.join("bus");
    let _ = std::fs::remove_file(&socket);
    // A session bus without service directories: Debian's session.conf would let the first
    // question to org.freedesktop.secrets activate another gnome-keyring (with the real
    // HOME and no unlock password) before ours owns the name.
    let config = dir.join("bus.conf");
    std::fs::write(
        &config,
        format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"
 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context=\"default\">
<allow send_destination=\"*\" eavesdrop=\"true\"/>
<allow eavesdrop=\"true\"/>
<allow own=\"*\"/>
  </policy>
</busconfig>
",
            socket.display()
        ),
    )
    .unwrap();
    let mut bus = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon runs (scripts/setup installs it)");
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let address = address.trim().to_owned();
    assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
    (bus, address)
}

/// A child process killed (SIGKILL works on a stopped one too) and reaped when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running bus + gnome-keyring; both are stopped when dropped.
struct SecretService {
    bus: Child,
    daemon: Child,
    address: String,
    log: PathBuf,
}

impl SecretService {
    fn wait_for_login_keyring(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = self
                .tool("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.secrets",
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.ReadAlias",
                    "string:default",
                ])
                .output()
                .unwrap();
            if stdout(&reply).contains("/org/freedesktop/secrets/collection/") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring has no default keyring after 20 s: {}{}; its log: {}",
                stdout(&reply),
                stderr(&reply),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A program talking to this service's bus.
    fn tool(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null());
        command
    }

    /// The secret stored for `user` of service hologuide, if any, as `secret-tool` sees it.
    fn lookup(&self, user: &str) -> Option<Vec<u8>> {
        let output = self
            .tool("secret-tool")
            .args(["lookup", "service", "hologuide", "username", user])
            .output()
            .expect("secret-tool runs (scripts/setup installs libsecret-tools)");
        output.status.success().then_some(output.stdout)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // SIGTERM so gnome-keyring closes its files like on a logout.
        for child in [&mut self.daemon, &mut self.bus] {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) on our own child's pid, which it keeps until we wait on it.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `hologuide` on `data`, seeing the bus `bus` (none: no session bus at all), with no forced
/// key store.
fn client(data: &Path, bus: Option<&str>, args: &[&str]) -> Command {
    let mut command = hologuide();
    command
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("HOLOGUIDE_KEYSTORE")
        .env_remove("HOLOGUIDE_DATA_DIR")
        .env_remove("HOLOGUIDE_CLOCK_OVERRIDE")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null());
    match bus {
        Some(address) => command.env("DBUS_SESSION_BUS_ADDRESS", address),
        None => command.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    command
}

/// Runs `command`, failing the test if it takes more than a minute (a hang, not slowness).
fn finish(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hologuide did not finish within 60 s: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn succeed(data: &Path, bus: Option<&str>, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = finish(client(data, bus, &all));
    assert!(
        output.status.success(),
        "hologuide {args:?}: {}{}",
        stdout(&output),
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

fn login(data: &Path, bus: Option<&str>, service: &Service) {
    let mut command = client(
        data,
        bus,
        &[
            "login",
            "--server",
            &service.url(),
            "--user",
            "alice",
            "--password-stdin",
        ],
    );
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", password("alice")).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "login: {}", stderr(&output));
}

fn secret_file(data: &Path) -> PathBuf {
    data.join("device-secret")
}

fn marker(data: &Path) -> PathBuf {
    data.join("device-secret.keyring")
}

/// The cache files under `data/cache`, with their sizes: what "data intact" compares.
fn cache_files(data: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(dir: &Path, into: &mut Vec<(PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, into);
            } else {
                into.push((path, entry.metadata().unwrap().len()));
            }
        }
    }
    let mut files = Vec::new();
    walk(&data.join("cache"), &mut files);
    files.sort();
    files
}

fn keyring_user(data: &Path) -> String {
    data.canonicalize().unwrap().to_str().unwrap().to_owned()
}

#[test]
fn device_secret_goes_to_the_os_keyring_when_a_secret_service_answers() {
    let home = KeyringHome::new();
    let secrets = home.start();
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    let bus = Some(secrets.address.as_str());

    login(data, bus, &service);
    let opened = succeed(data, bus, &["open", DEMO_ID]);
    assert_eq!(opened["opened"]["origin"], "network");

    assert!(
        !secret_file(data).exists(),
        "no secret file beside the cache"
    );
    let recorded = std::fs::read_to_string(marker(data)).unwrap();
    assert!(recorded.contains(&format!("user={}", keyring_user(data))));
    let secret = secrets
        .lookup(&keyring_user(data))
        .expect("the secret service has the device secret");
    assert_eq!(secret.len(), 32);
    assert!(
        !recorded.as_bytes().windows(32).any(|w| w == secret),
        "the marker holds no secret"
    );

    let status = succeed(data, bus, &["status"]);
    assert_eq!(status["device_secret"]["kept_in"], "keyring");
    assert_eq!(status["device_secret"]["user"], keyring_user(data));
    let text = stdout(&finish(client(data, bus, &["status"])));
    assert!(text.contains("device secret: keyring"), "{text}");

    // A new process, offline: the cache opens with the secret read back from the keyring.
    service.stop();
    let offline = succeed(data, bus, &["open", DEMO_ID]);
    assert_eq!(offline["opened"]["origin"], "cache");

    // Another data folder on the same machine is another device: its own entry and secret.
    let other = tempfile::tempdir().unwrap();
    let other_status = succeed(other.path(), bus, &["status"]);
    assert_eq!(other_status["device_secret"]["kept_in"], "keyring");
    assert_ne!(
        other_status["status"]["device_id"],
        status["status"]["device_id"]
    );
    assert_ne!(secrets.lookup(&keyring_user(other.path())), Some(secret));
}

#[test]
fn a_cache_keyed_by_the_keyring_refuses_clearly_when_the_service_is_gone() {
    let home = KeyringHome::new();
    let secrets = home.start();
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    let address = secrets.address.clone();

    login(data, Some(&address), &service);
    succeed(data, Some(&address), &["open", DEMO_ID]);
    service.stop();
    let before = cache_files(data);
    drop(secrets);

    // The bus address still set but dead, and no bus at all: both refuse, and say why.
    for bus in [Some(address.as_str()), None] {
        let refused = finish(client(data, bus, &["open", DEMO_ID]));
        assert!(!refused.status.success());
        let message = stderr(&refused);
        assert!(message.contains(NOT_ANSWERING), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    // Nothing replaced the secret or touched the cache.
    assert!(!secret_file(data).exists());
    assert!(marker(data).exists());
    assert_eq!(cache_files(data), before);

    // The service is back on the same keyring files: the cache opens as before.
    let secrets = home.start();
    let opened = succeed(data, Some(&secrets.address), &["open", DEMO_ID]);
    assert_eq!(opened["opened"]["origin"], "cache");
}

#[test]
fn an_existing_file_secret_is_kept_when_a_secret_service_appears() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();

    login(data, None, &service);
    succeed(data, None, &["open", DEMO_ID]);
    let secret = std::fs::read(secret_file(data)).unwrap();
    let device_id = succeed(data, None, &["status"])["status"]["device_id"].clone();

    let home = KeyringHome::new();
    let secrets = home.start();
    let bus = Some(secrets.address.as_str());
    service.stop();
    let opened = succeed(data, bus, &["open", DEMO_ID]);
    assert_eq!(opened["opened"]["origin"], "cache");
    let status = succeed(data, bus, &["status"]);
    assert_eq!(status["device_secret"]["kept_in"], "file");
    assert_eq!(status["status"]["device_id"], device_id);
    assert_eq!(std::fs::read(secret_file(data)).unwrap(), secret);
    assert!(!marker(data).exists());
    assert_eq!(secrets.lookup(&keyring_user(data)), None);

    // Forcing the keyring does not move it either: a clear refusal, the file untouched.
    let mut forced = client(data, bus, &["open", DEMO_ID]);
    forced.env("HOLOGUIDE_KEYSTORE", "keyring");
    let forced = finish(forced);
    assert!(!forced.status.success());
    assert!(
        stderr(&forced).contains(
            "HOLOGUIDE_KEYSTORE=keyring, but this data folder's device secret is the file"
        ),
        "{}",
        stderr(&forced)
    );
    assert_eq!(std::fs::read(secret_file(data)).unwrap(), secret);
}

#[test]
fn without_a_session_bus_the_secret_is_a_0600_file() {
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();

    login(data, None, &service);
    let opened = succeed(data, None, &["open", DEMO_ID]);
    assert_eq!(opened["opened"]["origin"], "network");
    let mode = std::fs::metadata(secret_file(data))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!marker(data).exists());
    let status = succeed(data, None, &["status"]);
    assert_eq!(status["device_secret"]["kept_in"], "file");

    // A bus address that leads nowhere is the same as none.
    let dead = device.path().join("no-bus-here");
    let other = tempfile::tempdir().unwrap();
    let status = succeed(
        other.path(),
        Some(&format!("unix:path={}", dead.display())),
        &["status"],
    );
    assert_eq!(status["device_secret"]["kept_in"], "file");

    // A bus that takes the connection and then says nothing (a stopped daemon): the check gives
    // up after a few seconds and the file is used; `finish` fails the test on a hang.
    let quiet = tempfile::tempdir().unwrap();
    let (bus, address) = start_bus(quiet.path());
    let bus = KillOnDrop(bus);
    // SAFETY: kill(2) on our own child's pid, which it keeps until we wait on it.
    unsafe { libc::kill(bus.0.id() as i32, libc::SIGSTOP) };
    let fourth = tempfile::tempdir().unwrap();
    let status = succeed(fourth.path(), Some(&address), &["status"]);
    assert_eq!(status["device_secret"]["kept_in"], "file");
    drop(bus);

    // Forcing the keyring with no service is an error that says so; a bad value too.
    let third = tempfile::tempdir().unwrap();
    let mut forced = client(third.path(), None, &["status"]);
    forced.env("HOLOGUIDE_KEYSTORE", "keyring");
    let forced = finish(forced);
    assert!(!forced.status.success());
    assert!(
        stderr(&forced).contains("HOLOGUIDE_KEYSTORE=keyring, but no OS keyring answers"),
        "{}",
        stderr(&forced)
    );
    let mut nonsense = client(third.path(), None, &["status"]);
    nonsense.env("HOLOGUIDE_KEYSTORE", "vault");
    let nonsense = finish(nonsense);
    assert!(!nonsense.status.success());
    assert!(
        stderr(&nonsense).contains("HOLOGUIDE_KEYSTORE='vault' is not one of: file, keyring"),
        "{}",
        stderr(&nonsense)
    );
}

#[test]
fn cache_clear_all_with_forget_device_removes_the_keyring_entry() {
    let home = KeyringHome::new();
    let secrets = home.start();
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    let bus = Some(secrets.address.as_str());
    login(data, bus, &service);
    succeed(data, bus, &["open", DEMO_ID]);
    let user = keyring_user(data);
    let device_id = succeed(data, bus, &["status"])["status"]["device_id"].clone();

    // Like the secret file, the entry outlives a plain `clear --all`: the device keeps its id.
    let cleared = succeed(data, bus, &["cache", "clear", "--all"]);
    assert_eq!(cleared["removed_caches"], 1);
    assert!(secrets.lookup(&user).is_some());
    assert!(marker(data).exists());

    let forgotten = succeed(data, bus, &["cache", "clear", "--all", "--forget-device"]);
    assert_eq!(forgotten["forgot_device_secret"]["kept_in"], "keyring");
    assert_eq!(forgotten["forgot_device_secret"]["user"], user);
    assert_eq!(secrets.lookup(&user), None);
    assert!(!marker(data).exists());
    assert!(!secret_file(data).exists());

    // The next start is a new device with a new secret, in the keyring again.
    let status = succeed(data, bus, &["status"]);
    assert_eq!(status["device_secret"]["kept_in"], "keyring");
    assert_ne!(status["status"]["device_id"], device_id);
}

/// Without the lock around the first store, about one run in three gives two device ids here
/// (checked by removing it): the race is real and this catches it often.
#[test]
fn processes_starting_together_on_a_new_data_folder_agree_on_one_keyring_secret() {
    let home = KeyringHome::new();
    let secrets = home.start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path().join("device");
    let children: Vec<Child> = (0..12)
        .map(|_| {
            client(&data, Some(&secrets.address), &["status", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let ids: Vec<Value> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", stderr(&output));
            let status: Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(status["device_secret"]["kept_in"], "keyring");
            status["status"]["device_id"].clone()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one device: {ids:?}");
    assert_eq!(
        secrets.lookup(&keyring_user(&data)).map(|s| s.len()),
        Some(32)
    );
    assert!(!secret_file(&data).exists());
}
