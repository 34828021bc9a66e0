//! Signing in and out, and the start of the app (F4, F5, F10).

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Account, ClientError, Device};
use crate::app::access::{self, Link, Refused, RememberedAccount};
use crate::app::shell::ShellEvent;
use crate::cache::{DeviceIndex, Session, Store};
use crate::net::{ApiClient, NetError, Refusal, wire};

/// How a start went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "signed_in")]
pub enum Started {
    /// Signed in online: tokens refreshed, F10's window renewed.
    Online { username: String },
    /// Signed in offline as the last account (F4).
    Offline { username: String },
    /// Nobody is signed in; `reason` says why (signed out, window over, clock set back, …).
    No { reason: String },
}

/// What `hologuide status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub link: Link,
    pub offline_banner: bool,
    pub server: Option<String>,
    pub username: Option<String>,
    pub device_id: String,
    /// F10: when offline use ends unless the user signs in online before.
    #[serde(with = "time::serde::rfc3339::option")]
    pub offline_until: Option<OffsetDateTime>,
    pub cache_bytes: Option<u64>,
    pub cached_guides: usize,
}

/// A health probe at start is answered at once on a LAN; waiting longer only delays the
/// offline start.
const START_PROBE: Duration = Duration::from_millis(1500);

impl Device {
    /// At app start: F4 and F10. Online, the last account's session is refreshed (the window
    /// rolls); offline, the last account is signed in if it did not sign out and its 90 days are
    /// not over.
    pub fn start(&mut self) -> Result<Started, ClientError> {
        let index = DeviceIndex::load(&self.config.data_dir)?;
        let Some(last) = index.last().cloned() else {
            self.probe();
            return Ok(Started::No {
                reason: Refused::NotSignedIn.to_string(),
            });
        };
        let store = self.open_store(&last.user_id)?;
        let session = store.session()?;
        let username = last
            .display_name
            .clone()
            .unwrap_or_else(|| last.user_id.clone());
        self.probe();
        let now = self.config.clock.now();
        let access_valid = session.refresh_token.is_some()
            && session.access_token.is_some()
            && session
                .access_expires_at
                .is_some_and(|at| at > now + time::Duration::seconds(30));
        if self.link() == Link::Online && access_valid {
            // The access token still works: no refresh now. Each refresh rotates the refresh
            // token, and a process killed between the service's rotation and our save would
            // lose the session; refreshing only when needed keeps that window rare.
            return self.signed_in_from_cache(store, &session, username, true);
        }
        if self.link() == Link::Online
            && let (Some(server), Some(refresh)) = (self.server.clone(), &session.refresh_token)
        {
            let outcome = server.refresh(refresh);
            self.note(&outcome);
            match outcome {
                Ok(tokens) => {
                    self.signed_in_online(&server, store, &tokens)?;
                    return Ok(Started::Online { username });
                }
                Err(e) if e.refusal() == Some(Refusal::Unauthorized) => {
                    // Revoked or expired on the service: a real sign-in is needed.
                    store.sign_out()?;
                    return Ok(Started::No {
                        reason: format!("{e}; sign in again"),
                    });
                }
                Err(e) if e.is_network() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let remembered = RememberedAccount {
            user_id: uuid::Uuid::parse_str(&last.user_id).unwrap_or_default(),
            username: username.clone(),
            last_online_sign_in: session
                .last_online_sign_in
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            signed_out: session.refresh_token.is_none(),
        };
        let last_seen = store.time_high_water()?;
        match access::offline_sign_in(Some(&remembered), now, last_seen) {
            Ok(_) => self.signed_in_from_cache(store, &session, username, false),
            Err(refused) => Ok(Started::No {
                reason: refused.to_string(),
            }),
        }
    }

    fn signed_in_from_cache(
        &mut self,
        store: std::sync::Arc<Store>,
        session: &Session,
        username: String,
        online: bool,
    ) -> Result<Started, ClientError> {
        if online {
            store.confirm_clock()?;
        } else {
            store.advance_time_seen()?;
        }
        store.begin_app_session(self.app_session)?;
        self.access_token = session.access_token.clone();
        self.account = Some(Account {
            username: username.clone(),
            store,
        });
        self.shell.handle(ShellEvent::SignedIn {
            username: username.clone(),
        });
        Ok(if online {
            Started::Online { username }
        } else {
            Started::Offline { username }
        })
    }

    /// The service when it answers: without a monitor to say the network is back, an offline
    /// device looks once before settling for the cache.
    pub(super) fn reachable_server(&mut self) -> Option<ApiClient> {
        if self.link() == Link::Offline && self.reporter.is_none() {
            self.probe();
        }
        self.server.clone().filter(|_| self.link() == Link::Online)
    }

    /// One health probe: where the banner starts.
    pub(super) fn probe(&mut self) {
        let link = match &self.server {
            Some(server) => match server.health(START_PROBE) {
                Err(e) if e.is_network() => Link::Offline,
                _ => Link::Online,
            },
            None => Link::Offline,
        };
        self.shell.handle(ShellEvent::Connectivity(link));
    }

    /// Signs in online (F5: refused with the exact reason when there is no network). `server`
    /// may be left out after a first sign-in on this device.
    pub fn sign_in(
        &mut self,
        server: Option<&str>,
        username: &str,
        password: &str,
    ) -> Result<String, ClientError> {
        let client = match server {
            Some(url) => ApiClient::new(url, &self.config.client)?,
            None => self.server.clone().ok_or(ClientError::NoServer)?,
        };
        let outcome = client.sign_in(username, password, &self.device_id);
        self.note(&outcome);
        let tokens = match outcome {
            Ok(tokens) => tokens,
            Err(e) if e.is_network() => {
                let refused = Refused::SignInNeedsNetwork;
                self.shell.handle(ShellEvent::Refused(refused.clone()));
                return Err(refused.into());
            }
            Err(e) => return Err(e.into()),
        };
        // Another account's session on this device ends here; its cache stays its own (F6).
        self.account = None;
        let store = self.open_store(&tokens.user.id.to_string())?;
        self.signed_in_online(&client, store, &tokens)?;
        self.server = Some(client);
        Ok(tokens.user.username)
    }

    fn signed_in_online(
        &mut self,
        server: &ApiClient,
        store: std::sync::Arc<Store>,
        tokens: &wire::Session,
    ) -> Result<(), ClientError> {
        let now = self.config.clock.now();
        store.save_session(&Session {
            refresh_token: Some(tokens.refresh_token.clone()),
            refresh_expires_at: Some(tokens.refresh_expires_at),
            access_token: Some(tokens.access_token.clone()),
            access_expires_at: Some(tokens.access_expires_at),
            last_online_sign_in: Some(now),
        })?;
        // N2: the organisation's link keys, for checking stickers offline.
        store.save_link_trust(&tokens.link_trust.to_trust())?;
        // The service answered: the device clock is trusted again (N1).
        store.confirm_clock()?;
        store.remember_as_last_account(Some(&tokens.user.username), Some(server.server()))?;
        store.begin_app_session(self.app_session)?;
        self.access_token = Some(tokens.access_token.clone());
        self.server = Some(server.clone());
        self.account = Some(Account {
            username: tokens.user.username.clone(),
            store,
        });
        self.shell.handle(ShellEvent::SignedIn {
            username: tokens.user.username.clone(),
        });
        Ok(())
    }

    /// Signs out, online or offline (F5). The cached guides and the outbox stay; only the
    /// tokens go. Online, the service forgets the session too.
    pub fn sign_out(&mut self) -> Result<Option<String>, ClientError> {
        if self.account.is_none() {
            // `logout` in a fresh process: the last account is the one meant.
            let index = DeviceIndex::load(&self.config.data_dir)?;
            if let Some(last) = index.last().cloned() {
                let store = self.open_store(&last.user_id)?;
                self.access_token = store.session()?.access_token;
                self.account = Some(Account {
                    username: last.display_name.clone().unwrap_or(last.user_id),
                    store,
                });
            }
        }
        let Some(account) = self.account.take() else {
            return Ok(None);
        };
        if let (Some(server), Some(token)) = (self.server.clone(), self.access_token.take()) {
            let outcome = server.sign_out(&token);
            self.note(&outcome);
            if let Err(e) = outcome
                && !e.is_network()
                && e.refusal() != Some(Refusal::Unauthorized)
            {
                tracing::warn!("the service did not take the sign-out: {e}");
            }
        }
        account.store.sign_out()?;
        self.shell.handle(ShellEvent::SignedOut);
        Ok(Some(account.username))
    }

    /// An access token that the service still takes: the one in hand, else a refresh.
    pub(super) fn access_token(&mut self, server: &ApiClient) -> Result<String, ClientError> {
        let store = self
            .account
            .as_ref()
            .map(|a| a.store.clone())
            .ok_or(Refused::NotSignedIn)?;
        let session = store.session()?;
        let now = self.config.clock.now();
        // The cache holds the newest pair: another handle of this device (the background sync)
        // may have refreshed since this one last did. A token the service just refused is no
        // use, whoever holds it.
        let in_hand = session
            .access_token
            .or_else(|| self.access_token.clone())
            .filter(|t| self.refused_token.as_ref() != Some(t));
        if let (Some(token), Some(expires)) = (in_hand, session.access_expires_at)
            && expires > now + time::Duration::seconds(30)
        {
            self.access_token = Some(token.clone());
            return Ok(token);
        }
        let refresh = session.refresh_token.ok_or(Refused::NotSignedIn)?;
        let outcome = server.refresh(&refresh);
        self.note(&outcome);
        let tokens = outcome?;
        self.signed_in_online(server, store, &tokens)?;
        Ok(tokens.access_token)
    }

    /// Runs `request` with an access token; a 401 (token revoked, or expired early by a wrong
    /// clock) gets one retry with a refreshed token.
    pub(super) fn authorised<T>(
        &mut self,
        server: &ApiClient,
        request: impl Fn(&str) -> Result<T, NetError>,
    ) -> Result<T, ClientError> {
        let token = self.access_token(server)?;
        let outcome = request(&token);
        self.note(&outcome);
        match outcome {
            Err(e) if e.refusal() == Some(Refusal::Unauthorized) => {
                self.refused_token = self.access_token.take();
                let token = self.access_token(server)?;
                let outcome = request(&token);
                self.note(&outcome);
                Ok(outcome?)
            }
            other => Ok(other?),
        }
    }

    pub fn status(&self) -> Result<Status, ClientError> {
        let (offline_until, cache_bytes, cached_guides) = match &self.account {
            Some(account) => {
                let session = account.store.session()?;
                let info = account.store.info()?;
                (
                    session
                        .last_online_sign_in
                        .map(|t| t + access::OFFLINE_WINDOW),
                    Some(info.file_bytes),
                    info.guides.len(),
                )
            }
            None => (None, None, 0),
        };
        Ok(Status {
            link: self.link(),
            offline_banner: self.shell.offline_banner(),
            server: self.server().map(str::to_owned),
            username: self.username().map(str::to_owned),
            device_id: self.device_id.clone(),
            offline_until,
            cache_bytes,
            cached_guides,
        })
    }
}
