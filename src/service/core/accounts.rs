//! Users, sign-in, access and refresh tokens, devices.

use time::Duration;
use uuid::Uuid;

use super::{Service, check_name};
use crate::guide::link::is_valid_org_slug;
use crate::service::error::ServiceError;
use crate::service::model::{Caller, Me, Role, Scope, SessionTokens, User};
use crate::service::secrets::{
    ACCESS_PREFIX, MAX_TOKEN_LEN, REFRESH_PREFIX, constant_time_eq, hash_password, new_nonce,
    new_token, rotated_tokens, token_hash,
};
use crate::service::store::{NewUser, Rotation, SessionRecord, TokenHashes};

/// How long after a rotation the refresh token it replaced is still answered (with the same new
/// pair). Long enough for a device to retry after a crash or a dropped answer; short enough that a
/// token copied off a device is useless soon after its owner used it.
pub const REFRESH_GRACE: Duration = Duration::seconds(60);

fn invalid_refresh() -> ServiceError {
    ServiceError::unauthorized("invalid_token", "the refresh token is not valid")
}

/// A session a refresh may continue: not signed out, within its 90 days (F10).
fn check_live(session: &SessionRecord, now: time::OffsetDateTime) -> Result<(), ServiceError> {
    if session.revoked {
        return Err(ServiceError::unauthorized(
            "token_revoked",
            "this session was signed out; sign in again",
        ));
    }
    if now >= session.refresh_expires_at {
        return Err(ServiceError::unauthorized(
            "refresh_expired",
            "more than 90 days since the last online sign-in; sign in again",
        ));
    }
    Ok(())
}

/// Device ids come from the client: bounded and printable.
pub fn check_device_id(device_id: &str) -> Result<(), ServiceError> {
    let ok = (1..=128).contains(&device_id.len())
        && device_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            "the device id must be 1–128 characters of letters, digits, '-', '_', '.', ':'".into(),
        ))
    }
}

/// Which organisation a new user works in (N4), and whether they are a server-wide admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organisation: String,
    pub all_organisations: bool,
}

impl Membership {
    pub fn of(organisation: impl Into<String>) -> Self {
        Self {
            organisation: organisation.into(),
            all_organisations: false,
        }
    }
}

/// Organisation names are the ones guide links carry (`hologuide://<org>/g/<id>`).
pub fn check_organisation(name: &str) -> Result<(), ServiceError> {
    if is_valid_org_slug(name) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "'{}' is not an organisation name (1–63 characters of a–z, 0–9 and '-', not starting or ending with '-')",
            name.chars().take(80).collect::<String>()
        )))
    }
}

impl Service {
    pub fn add_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        membership: &Membership,
        groups: &[String],
    ) -> Result<User, ServiceError> {
        check_name("user", username)?;
        check_organisation(&membership.organisation)?;
        if membership.all_organisations && role != Role::Admin {
            return Err(ServiceError::Invalid(format!(
                "only an admin may span all organisations, not an {role}"
            )));
        }
        for group in groups {
            check_name("group", group)?;
        }
        let user = NewUser {
            id: Uuid::new_v4(),
            username: username.to_owned(),
            password_hash: hash_password(password)?,
            role,
            organisation: membership.organisation.clone(),
            all_organisations: membership.all_organisations,
            groups: groups.to_vec(),
            created_at: self.clock.now(),
        };
        Ok(self.store.create_user(&user)?)
    }

    /// The organisation a new user joins when none is named: the service's only one. With none
    /// yet, or several, the admin has to say which.
    pub fn default_organisation(&self) -> Result<String, ServiceError> {
        let mut organisations = self.store.organisations()?;
        match organisations.len() {
            1 => Ok(organisations.remove(0)),
            0 => Err(ServiceError::Invalid(
                "the first user needs an organisation: give one with --organisation".into(),
            )),
            _ => Err(ServiceError::Invalid(format!(
                "this service has several organisations ({}); say which with --organisation",
                organisations.join(", ")
            ))),
        }
    }

    /// The users an admin may see: those of their organisation (all for a server-wide admin).
    pub fn users(&self, scope: &Scope) -> Result<Vec<User>, ServiceError> {
        let mut users = self.store.users()?;
        users.retain(|user| scope.includes(&user.organisation));
        Ok(users)
    }

    pub fn user(&self, username: &str) -> Result<User, ServiceError> {
        self.store
            .user_by_name(username)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no user '{username}'")))
    }

    pub fn add_to_group(&self, username: &str, group: &str) -> Result<User, ServiceError> {
        check_name("group", group)?;
        let user = self.user(username)?;
        self.store.add_to_group(user.id, group)?;
        self.user(username)
    }

    pub(super) fn new_tokens(&self) -> Result<(String, String, TokenHashes), ServiceError> {
        let now = self.clock.now();
        let access = new_token(ACCESS_PREFIX)?;
        let refresh = new_token(REFRESH_PREFIX)?;
        let hashes = TokenHashes {
            access_hash: token_hash(&access),
            access_expires_at: now + self.config.access_token_ttl,
            refresh_hash: token_hash(&refresh),
            refresh_expires_at: now + self.config.refresh_token_ttl,
        };
        Ok((access, refresh, hashes))
    }

    /// The caller behind an access token; expired and revoked tokens are told apart so the
    /// device knows whether a refresh can help.
    pub fn authenticate(&self, access_token: &str) -> Result<Caller, ServiceError> {
        if !access_token.starts_with(ACCESS_PREFIX) || access_token.len() > MAX_TOKEN_LEN {
            return Err(ServiceError::unauthorized(
                "invalid_token",
                "the access token is not one this service issued",
            ));
        }
        let hash = token_hash(access_token);
        let session = self
            .store
            .session_by_access_hash(&hash)?
            .filter(|s| constant_time_eq(&s.access_hash, &hash))
            .ok_or_else(|| {
                ServiceError::unauthorized("invalid_token", "the access token is not valid")
            })?;
        if session.revoked {
            return Err(ServiceError::unauthorized(
                "token_revoked",
                "this session was signed out; sign in again",
            ));
        }
        if self.clock.now() >= session.access_expires_at {
            return Err(ServiceError::unauthorized(
                "token_expired",
                "the access token expired; refresh it",
            ));
        }
        Ok(Caller {
            user: session.user,
            session_id: session.id,
            device_id: session.device_id,
        })
    }

    /// `POST /v1/session/refresh`: a new token pair; the refresh window rolls forward (F10) and
    /// the old refresh token stops working — except that for [`REFRESH_GRACE`] after a rotation
    /// the token it replaced is answered again with the same new pair, so a device killed
    /// between our answer and saving it keeps its session (idempotent refresh). Past the grace
    /// period, or once the new token has itself been rotated, the old one is refused as before.
    pub fn refresh(&self, presented: &str) -> Result<SessionTokens, ServiceError> {
        if !presented.starts_with(REFRESH_PREFIX) || presented.len() > MAX_TOKEN_LEN {
            return Err(invalid_refresh());
        }
        let hash = token_hash(presented);
        let Some(session) = self
            .store
            .session_by_refresh_hash(&hash)?
            .filter(|s| constant_time_eq(&s.refresh_hash, &hash))
        else {
            return self.repeated_refresh(presented, &hash);
        };
        let now = self.clock.now();
        check_live(&session, now)?;
        let nonce = new_nonce()?;
        let (access_token, refresh_token) = rotated_tokens(presented, &nonce);
        let tokens = TokenHashes {
            access_hash: token_hash(&access_token),
            access_expires_at: now + self.config.access_token_ttl,
            refresh_hash: token_hash(&refresh_token),
            refresh_expires_at: now + self.config.refresh_token_ttl,
        };
        let rotation = Rotation {
            previous_refresh_hash: hash.clone(),
            rotated_at: now,
            nonce: nonce.to_vec(),
        };
        if !self.store.rotate_session(session.id, &tokens, &rotation)? {
            // A concurrent refresh with the same token won the race: answer with its pair.
            return self.repeated_refresh(presented, &hash);
        }
        self.store
            .record_device(session.user.id, &session.device_id, now)?;
        Ok(SessionTokens {
            access_token,
            access_expires_at: tokens.access_expires_at,
            refresh_token,
            refresh_expires_at: tokens.refresh_expires_at,
            device_id: session.device_id,
            link_trust: self.link_trust_for(&session.user)?,
            user: session.user,
        })
    }

    /// A refresh token that was just rotated, presented again within [`REFRESH_GRACE`]: the
    /// same pair as the first answer, re-derived, if that pair is still the session's current
    /// one. Anything else is the plain "not valid" refusal.
    fn repeated_refresh(
        &self,
        presented: &str,
        hash: &[u8],
    ) -> Result<SessionTokens, ServiceError> {
        let Some((session, rotation)) = self
            .store
            .session_by_previous_refresh_hash(hash)?
            .filter(|(_, r)| constant_time_eq(&r.previous_refresh_hash, hash))
        else {
            return Err(invalid_refresh());
        };
        let now = self.clock.now();
        check_live(&session, now)?;
        let age = now - rotation.rotated_at;
        if age < Duration::ZERO || age > REFRESH_GRACE {
            tracing::info!(session = %session.id, ?age, "a rotated refresh token came back after the grace period");
            return Err(invalid_refresh());
        }
        let (access_token, refresh_token) = rotated_tokens(presented, &rotation.nonce);
        // The new pair was rotated again (or the session re-issued): the old token is spent.
        if !constant_time_eq(&token_hash(&refresh_token), &session.refresh_hash)
            || !constant_time_eq(&token_hash(&access_token), &session.access_hash)
        {
            return Err(invalid_refresh());
        }
        Ok(SessionTokens {
            access_token,
            access_expires_at: session.access_expires_at,
            refresh_token,
            refresh_expires_at: session.refresh_expires_at,
            device_id: session.device_id,
            link_trust: self.link_trust_for(&session.user)?,
            user: session.user,
        })
    }

    /// `DELETE /v1/session`: both tokens of the session stop working at once.
    pub fn sign_out(&self, caller: &Caller) -> Result<(), ServiceError> {
        Ok(self
            .store
            .revoke_session(caller.session_id, self.clock.now())?)
    }

    pub fn me(&self, caller: &Caller) -> Result<Me, ServiceError> {
        Ok(Me {
            user: caller.user.clone(),
            device_id: caller.device_id.clone(),
            devices: self.store.devices(caller.user.id)?,
            profile: self.store.profile_of(caller.user.id)?.map(|p| p.name),
        })
    }
}
