//! Offline profiles in SQLite (S1–S4, S7).

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sqlite::{SqliteStore, from_unix, is_unique_violation, unix, uuid};
use super::{ProfileStore, StoreError, StoreResult};
use crate::service::model::{LostAccess, Profile, ProfileSpec};

/// Days of the date filter a profile gets unless told otherwise (S3).
pub const DEFAULT_MODIFIED_WITHIN_DAYS: u32 = 10;

/// The id of the organisation's profile of that name.
fn find(connection: &Connection, organisation: &str, name: &str) -> StoreResult<Option<String>> {
    Ok(connection
        .prepare_cached("SELECT id FROM profiles WHERE organisation = ?1 AND name = ?2")?
        .query_row(params![organisation, name], |row| row.get(0))
        .optional()?)
}

fn load(connection: &Connection, id: &str) -> StoreResult<Option<Profile>> {
    let raw = connection
        .prepare_cached(
            "SELECT id, name, description, modified_within_days, revision, updated_at,
                    organisation
             FROM profiles WHERE id = ?1",
        )?
        .query_row(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<u32>>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
            ))
        })
        .optional()?;
    let Some((id, name, description, days, revision, updated_at, organisation)) = raw else {
        return Ok(None);
    };
    let strings = |sql: &str| -> StoreResult<Vec<String>> {
        Ok(connection
            .prepare_cached(sql)?
            .query_map(params![id], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
    };
    let guide_ids =
        strings("SELECT guide_id FROM profile_guides WHERE profile_id = ?1 ORDER BY guide_id")?
            .iter()
            .map(|id| uuid(id))
            .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(Profile {
        id: uuid(&id)?,
        name,
        organisation,
        description,
        guide_ids,
        tags: strings("SELECT tag FROM profile_tags WHERE profile_id = ?1 ORDER BY tag")?,
        modified_within_days: days,
        revision: revision as u64,
        members: strings(
            "SELECT u.username FROM profile_members m JOIN users u ON u.id = m.user_id
             WHERE m.profile_id = ?1 ORDER BY u.username",
        )?,
        updated_at: from_unix(updated_at)?,
    }))
}

fn require(tx: &Connection, organisation: &str, name: &str) -> StoreResult<Profile> {
    find(tx, organisation, name)?
        .map(|id| load(tx, &id))
        .transpose()?
        .flatten()
        .ok_or_else(|| StoreError::NotFound(format!("there is no profile '{name}'")))
}

fn require_id(tx: &Connection, id: &str) -> StoreResult<Profile> {
    load(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("there is no profile {id}")))
}

fn name_taken(name: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a profile named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

fn write_selection(tx: &Transaction<'_>, id: &str, spec: &ProfileSpec) -> StoreResult<()> {
    if let Some(guides) = &spec.guide_ids {
        tx.execute(
            "DELETE FROM profile_guides WHERE profile_id = ?1",
            params![id],
        )?;
        for guide in guides {
            tx.execute(
                "INSERT OR IGNORE INTO profile_guides (profile_id, guide_id) VALUES (?1, ?2)",
                params![id, guide.to_string()],
            )?;
        }
    }
    if let Some(tags) = &spec.tags {
        tx.execute(
            "DELETE FROM profile_tags WHERE profile_id = ?1",
            params![id],
        )?;
        for tag in tags {
            tx.execute(
                "INSERT OR IGNORE INTO profile_tags (profile_id, tag) VALUES (?1, ?2)",
                params![id, tag],
            )?;
        }
    }
    Ok(())
}

impl ProfileStore for SqliteStore {
    fn create_profile(
        &self,
        spec: &ProfileSpec,
        organisation: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Profile> {
        let name = spec.name.clone().unwrap_or_default();
        self.write(|tx| {
            let id = Uuid::new_v4().to_string();
            let days = spec
                .modified_within_days
                .unwrap_or(Some(DEFAULT_MODIFIED_WITHIN_DAYS));
            tx.execute(
                "INSERT INTO profiles (id, name, description, modified_within_days, revision,
                                       created_at, updated_at, organisation)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6)",
                params![
                    id,
                    name,
                    spec.description.clone().unwrap_or_default(),
                    days,
                    unix(at),
                    organisation
                ],
            )
            .map_err(name_taken(&name))?;
            write_selection(tx, &id, spec)?;
            require_id(tx, &id)
        })
    }

    fn profiles(&self, organisation: Option<&str>) -> StoreResult<Vec<Profile>> {
        self.read(|c| {
            let ids = c
                .prepare_cached(
                    "SELECT id FROM profiles WHERE ?1 IS NULL OR organisation = ?1
                     ORDER BY organisation, name",
                )?
                .query_map(params![organisation], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter().map(|id| require_id(c, id)).collect()
        })
    }

    fn profile(&self, organisation: &str, name: &str) -> StoreResult<Option<Profile>> {
        self.read(|c| {
            find(c, organisation, name)?
                .map(|id| require_id(c, &id))
                .transpose()
        })
    }

    fn update_profile(
        &self,
        organisation: &str,
        name: &str,
        spec: &ProfileSpec,
        at: OffsetDateTime,
    ) -> StoreResult<Profile> {
        self.write(|tx| {
            let current = require(tx, organisation, name)?;
            let id = current.id.to_string();
            let new_name = spec.name.clone().unwrap_or(current.name);
            tx.execute(
                "UPDATE profiles SET name = ?2, description = ?3, modified_within_days = ?4,
                                     revision = revision + 1, updated_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    new_name,
                    spec.description.clone().unwrap_or(current.description),
                    spec.modified_within_days
                        .unwrap_or(current.modified_within_days),
                    unix(at)
                ],
            )
            .map_err(name_taken(&new_name))?;
            write_selection(tx, &id, spec)?;
            require_id(tx, &id)
        })
    }

    fn delete_profile(&self, organisation: &str, name: &str) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM profiles WHERE organisation = ?1 AND name = ?2",
                params![organisation, name],
            )? == 1)
        })
    }

    fn add_member(
        &self,
        organisation: &str,
        profile: &str,
        user_id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let target = require(tx, organisation, profile)?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT p.name FROM profile_members m JOIN profiles p ON p.id = m.profile_id
                     WHERE m.user_id = ?1",
                    params![user_id.to_string()],
                    |row| row.get(0),
                )
                .optional()?;
            match current {
                Some(name) if name == target.name => Ok(()),
                Some(name) => Err(StoreError::Conflict(format!(
                    "the user is already a member of the profile '{name}'; a user belongs to at most one profile"
                ))),
                None => {
                    tx.execute(
                        "INSERT INTO profile_members (user_id, profile_id) VALUES (?1, ?2)",
                        params![user_id.to_string(), target.id.to_string()],
                    )?;
                    tx.execute(
                        "UPDATE profiles SET updated_at = ?2 WHERE id = ?1",
                        params![target.id.to_string(), unix(at)],
                    )?;
                    Ok(())
                }
            }
        })
    }

    fn remove_member(
        &self,
        organisation: &str,
        profile: &str,
        user_id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let target = require(tx, organisation, profile)?;
            let changed = tx.execute(
                "DELETE FROM profile_members WHERE user_id = ?1 AND profile_id = ?2",
                params![user_id.to_string(), target.id.to_string()],
            )?;
            tx.execute(
                "UPDATE profiles SET updated_at = ?2 WHERE id = ?1",
                params![target.id.to_string(), unix(at)],
            )?;
            Ok(changed == 1)
        })
    }

    fn profile_of(&self, user_id: Uuid) -> StoreResult<Option<Profile>> {
        self.read(|c| {
            let id: Option<String> = c
                .prepare_cached("SELECT profile_id FROM profile_members WHERE user_id = ?1")?
                .query_row(params![user_id.to_string()], |row| row.get(0))
                .optional()?;
            id.map(|id| require_id(c, &id)).transpose()
        })
    }

    fn guides_tagged(&self, tags: &[String]) -> StoreResult<Vec<Uuid>> {
        self.read(|c| {
            let mut ids = Vec::new();
            let mut statement =
                c.prepare_cached("SELECT guide_id FROM guide_tags WHERE tag = ?1")?;
            for tag in tags {
                for id in statement.query_map(params![tag], |row| row.get::<_, String>(0))? {
                    let id = uuid(&id?)?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            Ok(ids)
        })
    }

    fn lost_access(&self, organisation: &str) -> StoreResult<LostAccess> {
        self.read(|c| {
            let policy: Option<String> = c
                .prepare_cached("SELECT policy FROM lost_access_policies WHERE organisation = ?1")?
                .query_row(params![organisation], |row| row.get(0))
                .optional()?;
            super::lost_access_of(policy)
        })
    }

    fn set_lost_access(&self, organisation: &str, policy: LostAccess) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO lost_access_policies (organisation, policy) VALUES (?1, ?2)
                 ON CONFLICT (organisation) DO UPDATE SET policy = excluded.policy",
                params![organisation, policy.as_str()],
            )?;
            Ok(())
        })
    }
}
