//! `POST /v1/session`: the password check and the throttle that slows guessing without letting
//! anyone lock a user out (issue 13, finding 4).
//!
//! The rule, after OWASP's "device cookies": a device that has signed in as a user before (the
//! service recorded the pair in `devices`) is slowed only by its own failures, counted per
//! (user, device). Every other device is slowed by the failures counted against the user name
//! and against its source address. So an attacker guessing alice's password slows down
//! attempts on alice from unknown devices, and from their own address, but not alice's own
//! headset. The device id is no public name: the client derives it from its device secret (96
//! bits of a sha256) and sends it only when signing in, and the service shows it only to users
//! signed in on that device (`GET /v1/me`); someone who learnt it anyway (another user of a
//! shared headset) gets that device's own throttled count for the user, not more guesses, and
//! slows no other device of hers.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::Service;
use super::accounts::check_device_id;
use crate::service::error::ServiceError;
use crate::service::model::{SessionTokens, address_block};
use crate::service::store::NewSession;

/// A well-formed hash no password matches: signing in as an unknown user costs the same argon2
/// work, on the same pool, as a wrong password, so response time does not tell which user names
/// exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

/// Failed sign-ins allowed in a row for one user name (or one known device) before each further
/// attempt has to wait.
pub const FREE_ATTEMPTS: u32 = 5;
/// Failed sign-ins allowed from one source address (any user names) before each further attempt
/// from an unknown device there has to wait: more than for one name, as several people may
/// share an address, few enough that spraying one password over many names is slowed too.
pub const ADDRESS_FREE_ATTEMPTS: u32 = 20;
/// The longest wait between attempts; it doubles from 1 s after each failure past the free ones.
pub const MAX_WAIT: Duration = Duration::minutes(15);
/// A run of failures whose last one is older than this is forgotten.
const FORGET_AFTER: Duration = Duration::days(1);

/// How long to wait after `failures` consecutive failures, of which `free` cost nothing.
pub fn wait_after(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free) {
        None => Duration::ZERO,
        Some(extra) => Duration::seconds(1i64 << extra.min(20)).min(MAX_WAIT),
    }
}

fn wrong_credentials() -> ServiceError {
    ServiceError::unauthorized("invalid_credentials", "wrong user name or password")
}

/// What a run of failures is counted against.
#[derive(Debug)]
struct Counter {
    key: String,
    free_attempts: u32,
}

impl Counter {
    fn name(username: &str) -> Self {
        Self {
            key: format!("name:{username}"),
            free_attempts: FREE_ATTEMPTS,
        }
    }

    fn device(user_id: Uuid, device_id: &str) -> Self {
        Self {
            key: format!("device:{user_id}:{device_id}"),
            free_attempts: FREE_ATTEMPTS,
        }
    }

    fn address(source: IpAddr) -> Self {
        Self {
            key: format!("address:{}", address_block(source)),
            free_attempts: ADDRESS_FREE_ATTEMPTS,
        }
    }
}

impl Service {
    /// `POST /v1/session`: checks the password and opens a session for this device. `source` is
    /// the client's address, for the throttle.
    pub fn sign_in(
        &self,
        username: &str,
        password: &str,
        device_id: &str,
        source: IpAddr,
    ) -> Result<SessionTokens, ServiceError> {
        check_device_id(device_id)?;
        if username.is_empty() || username.len() > 64 {
            return Err(wrong_credentials());
        }
        let now = self.clock.now();
        let found = self.store.user_credentials(username)?;
        // Asked for unknown names too (with an id no user has), so both cost the same.
        let user_id = found.as_ref().map_or(Uuid::nil(), |(user, _)| user.id);
        let counters = if self.store.is_known_device(user_id, device_id)? {
            vec![Counter::device(user_id, device_id)]
        } else {
            vec![Counter::name(username), Counter::address(source)]
        };
        self.check_counters(&counters, now)?;
        let stored_hash = found.as_ref().map_or(DUMMY_HASH, |(_, hash)| hash.as_str());
        let matches = self.passwords.verify(password, stored_hash)?;
        let Some((user, _)) = found.filter(|_| matches) else {
            // The wait counts from the answer, not the request: a check queued behind others
            // (or slow on a loaded host) would otherwise spend the wait before the client knew.
            // Rounded up to the whole second the stores keep: rounded down, a 1 s wait could
            // be over at once.
            let failed_at = {
                let now = self.clock.now();
                let second = now.replace_nanosecond(0).unwrap_or(now);
                if second < now {
                    second + Duration::SECOND
                } else {
                    second
                }
            };
            for counter in &counters {
                self.store.record_sign_in_failure(
                    &counter.key,
                    failed_at,
                    failed_at - FORGET_AFTER,
                )?;
            }
            return Err(wrong_credentials());
        };
        // The name's (or the device's) run ends; the address's does not, or one real account
        // would let a sprayer start again.
        self.store.clear_sign_in_failures(&counters[0].key)?;
        let (access_token, refresh_token, tokens) = self.new_tokens()?;
        let (access_expires_at, refresh_expires_at) =
            (tokens.access_expires_at, tokens.refresh_expires_at);
        self.store.create_session(&NewSession {
            id: Uuid::new_v4(),
            user_id: user.id,
            device_id: device_id.to_owned(),
            tokens,
            created_at: now,
        })?;
        self.store.record_device(user.id, device_id, now)?;
        Ok(SessionTokens {
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
            device_id: device_id.to_owned(),
            link_trust: self.link_trust_for(&user)?,
            user,
        })
    }

    /// Refuses with the longest wait any of `counters` still asks for.
    fn check_counters(
        &self,
        counters: &[Counter],
        now: OffsetDateTime,
    ) -> Result<(), ServiceError> {
        let mut wait_until = now;
        for counter in counters {
            if let Some((failures, last)) = self.store.sign_in_failures(&counter.key)? {
                let wait = wait_after(failures, counter.free_attempts);
                // `last` is rounded up to a whole second, so may be a moment ahead: only a run
                // past its free attempts waits.
                if wait > Duration::ZERO {
                    wait_until = wait_until.max(last + wait);
                }
            }
        }
        if now < wait_until {
            return Err(ServiceError::TooManyAttempts {
                retry_after_secs: (wait_until - now).whole_seconds().max(1) as u64,
            });
        }
        Ok(())
    }
}
