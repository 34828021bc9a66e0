//! Users, groups, devices, sessions and the sign-in throttle in PostgreSQL.

use postgres::types::Type;
use postgres::{GenericClient, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::postgres::{PostgresStore, is_unique_violation, narrow};
use super::sqlite::{from_unix, unix};
use super::{
    AccountStore, NewSession, NewUser, Rotation, SessionRecord, StoreError, StoreResult,
    TokenHashes,
};
use crate::service::model::{Device, Role, User};

const USER_COLUMNS: &str = "id, username, role, created_at, organisation, all_organisations";

// The reads every request makes (its caller's session and user, the sign-in throttle) use
// `query_typed*`: one round trip with the parameter types given, instead of a prepare and an
// execute. Under load the wait for the database process's turn on a core is paid per trip.

/// A user from the six columns of `row` from `offset` (see `USER_COLUMNS`), with their groups.
fn user_from_row(client: &mut impl GenericClient, row: &Row, offset: usize) -> StoreResult<User> {
    let id: Uuid = row.try_get(offset)?;
    let role: String = row.try_get(offset + 2)?;
    let groups = client
        .query_typed(
            "SELECT group_name FROM group_members WHERE user_id = $1 ORDER BY group_name",
            &[(&id, Type::UUID)],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<String>, _>>()?;
    Ok(User {
        id,
        username: row.try_get(offset + 1)?,
        role: role.parse::<Role>().map_err(StoreError::Corrupt)?,
        created_at: from_unix(row.try_get(offset + 3)?)?,
        organisation: row.try_get(offset + 4)?,
        all_organisations: row.try_get(offset + 5)?,
        groups,
    })
}

fn user_by_id(client: &mut impl GenericClient, id: Uuid) -> StoreResult<Option<User>> {
    let row = client.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
        &[&id],
    )?;
    row.map(|row| user_from_row(client, &row, 0)).transpose()
}

fn session_by(
    client: &mut impl GenericClient,
    column: &str,
    hash: &[u8],
) -> StoreResult<Option<SessionRecord>> {
    // `column` is one of the constants below, never input.
    let sql = format!(
        "SELECT s.id, s.device_id, s.access_hash, s.access_expires_at, s.refresh_hash,
                s.refresh_expires_at, s.revoked_at IS NOT NULL,
                u.id, u.username, u.role, u.created_at, u.organisation, u.all_organisations
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.{column} = $1"
    );
    let Some(row) = client.query_typed_opt(&sql, &[(&hash, Type::BYTEA)])? else {
        return Ok(None);
    };
    Ok(Some(SessionRecord {
        id: row.try_get(0)?,
        device_id: row.try_get(1)?,
        access_hash: row.try_get(2)?,
        access_expires_at: from_unix(row.try_get(3)?)?,
        refresh_hash: row.try_get(4)?,
        refresh_expires_at: from_unix(row.try_get(5)?)?,
        revoked: row.try_get(6)?,
        user: user_from_row(client, &row, 7)?,
    }))
}

impl AccountStore for PostgresStore {
    fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (id, username, password_hash, role, created_at, organisation,
                                    all_organisations)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &user.id,
                    &user.username,
                    &user.password_hash,
                    &user.role.as_str(),
                    &unix(user.created_at),
                    &user.organisation,
                    &user.all_organisations,
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
                    "INSERT INTO group_members (group_name, user_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[group, &user.id],
                )?;
            }
            user_by_id(tx, user.id)?
                .ok_or_else(|| StoreError::NotFound(format!("user {}", user.id)))
        })
    }

    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        self.read(|c| {
            let row = c.query_typed_opt(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"),
                &[(&username, Type::TEXT)],
            )?;
            row.map(|row| Ok((user_from_row(c, &row, 0)?, row.try_get(6)?)))
                .transpose()
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self.user_credentials(username)?.map(|(user, _)| user))
    }

    fn users(&self) -> StoreResult<Vec<User>> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                &[],
            )?;
            rows.iter().map(|row| user_from_row(c, row, 0)).collect()
        })
    }

    fn organisations(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            c.query(
                "SELECT DISTINCT organisation FROM users ORDER BY organisation",
                &[],
            )?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
        })
    }

    fn add_to_group(&self, user_id: Uuid, group: &str) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute(
                "INSERT INTO group_members (group_name, user_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&group, &user_id],
            )?;
            Ok(())
        })
    }

    fn record_device(&self, user_id: Uuid, device_id: &str, at: OffsetDateTime) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute(
                "INSERT INTO devices (user_id, device_id, first_seen, last_seen)
                 VALUES ($1, $2, $3, $3)
                 ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen = excluded.last_seen",
                &[&user_id, &device_id, &unix(at)],
            )?;
            Ok(())
        })
    }

    fn devices(&self, user_id: Uuid) -> StoreResult<Vec<Device>> {
        self.read(|c| {
            c.query_typed(
                "SELECT device_id, first_seen, last_seen FROM devices
                 WHERE user_id = $1 ORDER BY first_seen, device_id",
                &[(&user_id, Type::UUID)],
            )?
            .iter()
            .map(|row| {
                Ok(Device {
                    device_id: row.try_get(0)?,
                    first_seen: from_unix(row.try_get(1)?)?,
                    last_seen: from_unix(row.try_get(2)?)?,
                })
            })
            .collect()
        })
    }

    fn is_known_device(&self, user_id: Uuid, device_id: &str) -> StoreResult<bool> {
        self.read(|c| {
            Ok(c.query_typed_opt(
                "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2",
                &[(&user_id, Type::UUID), (&device_id, Type::TEXT)],
            )?
            .is_some())
        })
    }

    fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        self.write_rows(|tx| {
            let t = &session.tokens;
            tx.execute(
                "INSERT INTO sessions (id, user_id, device_id, access_hash, access_expires_at,
                                       refresh_hash, refresh_expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &session.id,
                    &session.user_id,
                    &session.device_id,
                    &t.access_hash,
                    &unix(t.access_expires_at),
                    &t.refresh_hash,
                    &unix(t.refresh_expires_at),
                    &unix(session.created_at),
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
            let Some(row) = c.query_opt(
                "SELECT previous_refresh_hash, rotated_at, rotation_nonce FROM sessions
                 WHERE id = $1 AND rotated_at IS NOT NULL AND rotation_nonce IS NOT NULL",
                &[&session.id],
            )?
            else {
                return Ok(None);
            };
            let rotation = Rotation {
                previous_refresh_hash: row.try_get(0)?,
                rotated_at: from_unix(row.try_get(1)?)?,
                nonce: row.try_get(2)?,
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
        // Two instances rotating the same token: the second waits for the first's row lock, then
        // finds the refresh hash already changed and matches nothing.
        self.write_rows(|tx| {
            let changed = tx.execute(
                "UPDATE sessions SET access_hash = $3, access_expires_at = $4,
                                     refresh_hash = $5, refresh_expires_at = $6,
                                     previous_refresh_hash = $2, rotated_at = $7,
                                     rotation_nonce = $8
                 WHERE id = $1 AND refresh_hash = $2 AND revoked_at IS NULL",
                &[
                    &session_id,
                    &rotation.previous_refresh_hash,
                    &tokens.access_hash,
                    &unix(tokens.access_expires_at),
                    &tokens.refresh_hash,
                    &unix(tokens.refresh_expires_at),
                    &unix(rotation.rotated_at),
                    &rotation.nonce,
                ],
            )?;
            Ok(changed == 1)
        })
    }

    fn revoke_session(&self, session_id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute(
                "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&session_id, &unix(at)],
            )?;
            Ok(())
        })
    }

    fn sign_in_failures(&self, key: &str) -> StoreResult<Option<(u32, OffsetDateTime)>> {
        self.read(|c| {
            let row = c.query_typed_opt(
                "SELECT failures, last_failure_at FROM sign_in_failures WHERE key = $1",
                &[(&key, Type::TEXT)],
            )?;
            row.map(|row| {
                Ok((
                    narrow(row.try_get(0)?, "failure count")?,
                    from_unix(row.try_get(1)?)?,
                ))
            })
            .transpose()
        })
    }

    fn record_sign_in_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<u32> {
        self.write_rows(|tx| {
            // Bounded table: names an attacker made up are forgotten too.
            tx.execute(
                "DELETE FROM sign_in_failures WHERE last_failure_at < $1",
                &[&unix(forget_before)],
            )?;
            let failures: i64 = tx
                .query_one(
                    "INSERT INTO sign_in_failures (key, failures, last_failure_at)
                     VALUES ($1, 1, $2)
                     ON CONFLICT (key) DO UPDATE SET failures = sign_in_failures.failures + 1,
                         last_failure_at = excluded.last_failure_at
                     RETURNING failures",
                    &[&key, &unix(at)],
                )?
                .try_get(0)?;
            narrow(failures, "failure count")
        })
    }

    fn clear_sign_in_failures(&self, key: &str) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute("DELETE FROM sign_in_failures WHERE key = $1", &[&key])?;
            Ok(())
        })
    }
}
