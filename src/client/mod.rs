//! The device: the I/O edge that joins the encrypted cache (`cache::Store`), the service client
//! (`net`) and the rules (`app::access`), for the CLI and the 3D app alike.
//!
//! - [`Device::start`]: at app start, signs in again online (refresh, which rolls F10's window)
//!   or, offline, as the last account within its 90 days (F4, F10).
//! - [`Device::sign_in`] / [`Device::sign_out`] (F5: signing in needs the network, signing out
//!   does not).
//! - [`Device::open`]: online, the latest version is fetched into the cache with progress
//!   (F1, F12); offline, the cached copy opens if the rules allow it (F7, N1, F13, F14); the demo
//!   guide opens with neither network nor account (F8).
//! - [`Device::all_guides`] (F3), telemetry recording and upload (F9).
//!
//! Every refusal comes back as an [`access::Refused`] whose text is shown as it is; the
//! [`Shell`] state (banner, All list, progress, status line) follows every step.

mod guides;
mod live;
mod profile;
mod session;
mod setup;
mod telemetry;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::app::access::{self, Link};
use crate::app::shell::{Shell, ShellEvent};
use crate::cache::{CacheError, DeviceIndex, KeyStore, Store};
use crate::clock::Clock;
use crate::net::connectivity::Reporter;
use crate::net::download::DownloadOptions;
use crate::net::{ApiClient, ClientOptions, NetError};

pub use guides::{Opened, Target, facts_of};
pub use live::{CachedAssets, LiveGuide, shown_in_app};
pub use session::{Started, Status};
pub use setup::{CLOCK_OVERRIDE_ENV, DataFolder, KEYSTORE_ENV, SetupError};
pub use telemetry::{RESULTS_PER_REQUEST, ResultsUploaded, Uploaded};

#[derive(Debug, Error)]
pub enum ClientError {
    /// A rule said no (F5, F10, F11, N1, F13, F14, …); the text is for the user as it is.
    #[error(transparent)]
    Refused(#[from] access::Refused),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(
        "no guide service is known on this device; sign in with `hologuide login --server URL --user NAME`"
    )]
    NoServer,
    #[error(transparent)]
    Link(#[from] crate::guide::LinkError),
    #[error("the guide '{title}' could not be read: {detail}")]
    BadGuide { title: String, detail: String },
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
}

/// Everything a device needs from outside: where its data lives, its secret, its clock.
#[derive(Clone)]
pub struct DeviceConfig {
    pub data_dir: PathBuf,
    pub keys: Arc<dyn KeyStore>,
    pub clock: Arc<dyn Clock>,
    pub client: ClientOptions,
    pub download: DownloadOptions,
    /// App sessions whose telemetry is kept event by event (F9).
    pub telemetry_sessions: usize,
}

impl DeviceConfig {
    pub fn new(data_dir: &Path, keys: Arc<dyn KeyStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            keys,
            clock,
            client: ClientOptions::default(),
            download: DownloadOptions::default(),
            telemetry_sessions: crate::cache::DEFAULT_TELEMETRY_SESSIONS,
        }
    }
}

/// The signed-in account on this device.
#[derive(Debug, Clone)]
struct Account {
    username: String,
    store: Arc<Store>,
}

pub struct Device {
    config: DeviceConfig,
    device_id: String,
    server: Option<ApiClient>,
    account: Option<Account>,
    /// The access token of this run; never written anywhere but the encrypted cache.
    access_token: Option<String>,
    /// The last access token the service refused (401): not used again, even if the cache
    /// still holds it.
    refused_token: Option<String>,
    shell: Shell,
    reporter: Option<Reporter>,
    app_session: Uuid,
}

impl Device {
    /// Reads the device's account index; nothing is signed in until [`Device::start`] or
    /// [`Device::sign_in`].
    pub fn new(config: DeviceConfig) -> Result<Self, ClientError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| CacheError::Io {
            what: format!("creating {}", config.data_dir.display()),
            source: e,
        })?;
        let device_id = device_id(config.keys.as_ref())?;
        let index = DeviceIndex::load(&config.data_dir)?;
        let server = index
            .last()
            .and_then(|a| a.server_url.as_deref())
            .map(|url| ApiClient::new(url, &config.client))
            .transpose()?;
        Ok(Self {
            config,
            device_id,
            server,
            account: None,
            access_token: None,
            refused_token: None,
            shell: Shell::new(Link::Offline),
            reporter: None,
            app_session: Uuid::new_v4(),
        })
    }

    /// The device's id as the service records it (F6): derived from the device secret, so
    /// another secret is another device.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub fn shell(&self) -> &Shell {
        &self.shell
    }

    pub fn link(&self) -> Link {
        self.shell.link()
    }

    pub fn server(&self) -> Option<&str> {
        self.server.as_ref().map(ApiClient::server)
    }

    pub fn username(&self) -> Option<&str> {
        self.account.as_ref().map(|a| a.username.as_str())
    }

    /// The device's clock (fixed in tests).
    pub fn now(&self) -> time::OffsetDateTime {
        self.config.clock.now()
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The signed-in user's cache.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.account.as_ref().map(|a| &a.store)
    }

    /// Feeds real request outcomes to a running connectivity monitor as well (F2).
    pub fn attach_monitor(&mut self, reporter: Reporter) {
        self.shell.handle(ShellEvent::Connectivity(reporter.link()));
        self.reporter = Some(reporter);
    }

    /// A connectivity event from the monitor.
    pub fn connectivity_changed(&mut self, link: Link) {
        self.shell.handle(ShellEvent::Connectivity(link));
    }

    /// Notes how a request went: a network error means offline at once (F2), an answer means
    /// online.
    fn note<T>(&mut self, outcome: &Result<T, NetError>) {
        let link = match outcome {
            Err(e) if e.is_network() => Link::Offline,
            _ => Link::Online,
        };
        self.shell.handle(ShellEvent::Connectivity(link));
        if let Some(reporter) = &self.reporter {
            reporter.report(outcome);
        }
    }

    /// A second handle on this device's signed-in account for work on another thread (the
    /// background sync, S5): the same service, cache and device id; its own link state, no
    /// monitor, and `stop` raised stops its downloads. Tokens are shared through the cache,
    /// so a refresh by either handle serves both.
    pub fn companion(&self, stop: crate::net::download::StopSignal) -> Device {
        let mut config = self.config.clone();
        config.download.stop = stop;
        Device {
            config,
            device_id: self.device_id.clone(),
            server: self.server.clone(),
            account: self.account.clone(),
            access_token: self.access_token.clone(),
            refused_token: None,
            shell: self.shell.clone(),
            reporter: None,
            app_session: self.app_session,
        }
    }

    fn open_store(&self, user_id: &str) -> Result<Arc<Store>, ClientError> {
        let store = Store::open(
            &self.config.data_dir,
            user_id,
            self.config.keys.as_ref(),
            self.config.clock.clone(),
        )?;
        store.set_telemetry_session_limit(self.config.telemetry_sessions);
        Ok(Arc::new(store))
    }
}

fn device_id(keys: &dyn KeyStore) -> Result<String, CacheError> {
    let secret = keys.device_secret()?;
    let mut hasher = Sha256::new();
    hasher.update(b"hologuide device id\0");
    hasher.update(secret.expose());
    Ok(format!("dev-{}", hex::encode(&hasher.finalize()[..12])))
}
