//! Users, groups, devices and sessions in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sqlite::{SqliteStore, from_unix, is_unique_violation, unix, uuid};
use super::{
    AccountStore, NewSession, NewUser, Rotation, SessionRecord, StoreError, StoreResult,
    TokenHashes,
};
use crate::service::model::{Device, Role, User};

const USER_COLUMNS: &str = "id, username, role, created_at, organisation, all_organisations";

/// A user's columns as stored (see `USER_COLUMNS`).
type UserRow = (String, String, String, i64, String, bool);

/// Reads a user from the six columns of `row` from `offset` (see `USER_COLUMNS`); groups
/// separately.
fn user_from_row(row: &Row<'_>, offset: usize) -> rusqlite::Result<UserRow> {
    Ok((
        row.get(offset)?,
        row.get(offset + 1)?,
        row.get(offset + 2)?,
        row.get(offset + 3)?,
        row.get(offset + 4)?,
        row.get(offset + 5)?,
    ))
}

fn finish_user(
    connection: &Connection,
    (id, username, role, created_at, organisation, all_organisations): UserRow,
) -> StoreResult<User> {
    let id = uuid(&id)?;
    let role: Role = role.parse().map_err(StoreError::Corrupt)?;
    let mut statement = connection.prepare_cached(
        "SELECT group_name FROM group_members WHERE user_id = ?1 ORDER BY group_name",
    )?;
    let groups = statement
        .query_map(params![id.to_string()], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(User {
        id,
        username,
        role,
        organisation,
        all_organisations,
        groups,
        created_at: from_unix(created_at)?,
    })
}

pub(super) fn user_by_id(connection: &Connection, id: Uuid) -> StoreResult<Option<User>> {
    let raw = connection
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row(params![id.to_string()], |row| user_from_row(row, 0))
        .optional()?;
    raw.map(|raw| finish_user(connection, raw)).transpose()
}

fn session_by(
    connection: &Connection,
    column: &str,
    hash: &[u8],
) -> StoreResult<Option<SessionRecord>> {
    // `column` is one of the constants below, never input.
    let sql = format!(
        "SELECT s.id, s.device_id, s.access_hash, s.access_expires_at, s.refresh_hash,
                s.refresh_expires_at, s.revoked_at IS NOT NULL,
                u.id, u.username, u.role, u.created_at, u.organisation, u.all_organisations
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.{column} = ?1"
    );
    let raw = connection
        .prepare_cached(&sql)?
        .query_row(params![hash], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Vec<u8>>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, bool>(6)?,
                user_from_row(row, 7)?,
            ))
        })
        .optional()?;
    let Some((id, device_id, access_hash, access_exp, refresh_hash, refresh_exp, revoked, user)) =
        raw
    else {
        return Ok(None);
    };
    Ok(Some(SessionRecord {
        id: uuid(&id)?,
        user: finish_user(connection, user)?,
        device_id,
        access_hash,
        access_expires_at: from_unix(access_exp)?,
        refresh_hash,
        refresh_expires_at: from_unix(refresh_exp)?,
        revoked,
    }))
}

impl AccountStore for SqliteStore {
    fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (id, username, password_hash, role, created_at, organisation,
                                    all_organisations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    user.id.to_string(),
                    user.username,
                    user.password_hash,
                    user.role.as_str(),
                    unix(user.created_at),
                    user.organisation,
                    user.all_organisations
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("the user '{}' already exists", user.username))
                } else {
                    e.into()
                }
            })?;
            for group in &user.groups {
                tx.execute(
                    "INSERT OR IGNORE INTO group_members (group_name, user_id) VALUES (?1, ?2)",
                    params![group, user.id.to_string()],
                )?;
            }
            user_by_id(tx, user.id)?
                .ok_or_else(|| StoreError::NotFound(format!("user {}", user.id)))
        })
    }

    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"
                ))?
                .query_row(params![username], |row| {
                    Ok((user_from_row(row, 0)?, row.get::<_, String>(6)?))
                })
                .optional()?;
            raw.map(|(user, hash)| Ok((finish_user(c, user)?, hash)))
                .transpose()
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self.user_credentials(username)?.map(|(user, _)| user))
    }

    fn users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users ORDER BY username"
                ))?
                .query_map([], |row| user_from_row(row, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(|raw| finish_user(c, raw)).collect()
        })
    }

    fn organisations(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT DISTINCT organisation FROM users ORDER BY organisation")?
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?,
            )
        })
    }

    fn add_to_group(&self, user_id: Uuid, group: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO group_members (group_name, user_id) VALUES (?1, ?2)",
                params![group, user_id.to_string()],
            )?;
            Ok(())
        })
    }

    fn record_device(&self, user_id: Uuid, device_id: &str, at: OffsetDateTime) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO devices (user_id, device_id, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen = excluded.last_seen",
                params![user_id.to_string(), device_id, unix(at)],
            )?;
            Ok(())
        })
    }

    fn is_known_device(&self, user_id: Uuid, device_id: &str) -> StoreResult<bool> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT 1 FROM devices WHERE user_id = ?1 AND device_id = ?2")?
                    .query_row(params![user_id.to_string(), device_id], |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
    }

    fn devices(&self, user_id: Uuid) -> StoreResult<Vec<Device>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(
                    "SELECT device_id, first_seen, last_seen FROM devices
                     WHERE user_id = ?1 ORDER BY first_seen, device_id",
                )?
                .query_map(params![user_id.to_string()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<(String, i64, i64)>>>()?;
            raw.into_iter()
                .map(|(device_id, first, last)| {
                    Ok(Device {
                        device_id,
                        first_seen: from_unix(first)?,
                        last_seen: from_unix(last)?,
                    })
                })
                .collect()
        })
    }

    fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        self.write(|tx| {
            let t = &session.tokens;
            tx.execute(
                "INSERT INTO sessions (id, user_id, device_id, access_hash, access_expires_at,
                                       refresh_hash, refresh_expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    session.id.to_string(),
                    session.user_id.to_string(),
                    session.device_id,
                    t.access_hash,
                    unix(t.access_expires_at),
                    t.refresh_hash,
                    unix(t.refresh_expires_at),
                    unix(session.created_at)
                ],
            )?;
            Ok(())
        })
    }

    fn session_by_access_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| session_by(c, "access_hash", hash))
    }

    fn session_by_refresh_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| session_by(c, "refresh_hash", hash))
    }

    fn session_by_previous_refresh_hash(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<(SessionRecord, Rotation)>> {
        self.read(|c| {
            let Some(session) = session_by(c, "previous_refresh_hash", hash)? else {
                return Ok(None);
            };
            let raw = c
                .prepare_cached(
                    "SELECT previous_refresh_hash, rotated_at, rotation_nonce FROM sessions
                     WHERE id = ?1 AND rotated_at IS NOT NULL AND rotation_nonce IS NOT NULL",
                )?
                .query_row(params![session.id.to_string()], |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .optional()?;
            let Some((previous_refresh_hash, rotated_at, nonce)) = raw else {
                return Ok(None);
            };
            let rotation = Rotation {
                previous_refresh_hash,
                rotated_at: from_unix(rotated_at)?,
                nonce,
            };
            Ok(Some((session, rotation)))
        })
    }

    fn rotate_session(
        &self,
        session_id: Uuid,
        tokens: &TokenHashes,
        rotation: &Rotation,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE sessions SET access_hash = ?3, access_expires_at = ?4,
                                     refresh_hash = ?5, refresh_expires_at = ?6,
                                     previous_refresh_hash = ?2, rotated_at = ?7,
                                     rotation_nonce = ?8
                 WHERE id = ?1 AND refresh_hash = ?2 AND revoked_at IS NULL",
                params![
                    session_id.to_string(),
                    rotation.previous_refresh_hash,
                    tokens.access_hash,
                    unix(tokens.access_expires_at),
                    tokens.refresh_hash,
                    unix(tokens.refresh_expires_at),
                    unix(rotation.rotated_at),
                    rotation.nonce,
                ],
            )?;
            Ok(changed == 1)
        })
    }

    // The column is still called `username` (schema 2); it holds the throttle keys of
    // `core::sign_in` ("name:…", "device:…", "address:…"). Rows from before, keyed by bare
    // names, match no key and are forgotten with the next failure a day later.
    fn sign_in_failures(&self, key: &str) -> StoreResult<Option<(u32, OffsetDateTime)>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(
                    "SELECT failures, last_failure_at FROM sign_in_failures WHERE username = ?1",
                )?
                .query_row(params![key], |row| {
                    Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()?;
            raw.map(|(failures, at)| Ok((failures, from_unix(at)?)))
                .transpose()
        })
    }

    fn record_sign_in_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<u32> {
        self.write(|tx| {
            // Bounded table: names an attacker made up are forgotten too.
            tx.execute(
                "DELETE FROM sign_in_failures WHERE last_failure_at < ?1",
                params![unix(forget_before)],
            )?;
            Ok(tx.query_row(
                "INSERT INTO sign_in_failures (username, failures, last_failure_at)
                 VALUES (?1, 1, ?2)
                 ON CONFLICT (username) DO UPDATE SET failures = failures + 1,
                     last_failure_at = excluded.last_failure_at
                 RETURNING failures",
                params![key, unix(at)],
                |row| row.get(0),
            )?)
        })
    }

    fn clear_sign_in_failures(&self, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_failures WHERE username = ?1",
                params![key],
            )?;
            Ok(())
        })
    }

    fn revoke_session(&self, session_id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![session_id.to_string(), unix(at)],
            )?;
            Ok(())
        })
    }
}
