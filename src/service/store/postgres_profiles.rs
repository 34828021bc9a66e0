//! Offline profiles in PostgreSQL (S1–S4, S7).

use postgres::types::Type;
use postgres::{GenericClient, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::postgres::{PostgresStore, is_unique_violation, narrow};
use super::sqlite::{from_unix, unix};
use super::sqlite_profiles::DEFAULT_MODIFIED_WITHIN_DAYS;
use super::{ProfileStore, StoreError, StoreResult};
use crate::service::model::{LostAccess, Profile, ProfileSpec};

/// The id of the organisation's profile of that name.
fn find(
    client: &mut impl GenericClient,
    organisation: &str,
    name: &str,
) -> StoreResult<Option<Uuid>> {
    client
        .query_opt(
            "SELECT id FROM profiles WHERE organisation = $1 AND name = $2",
            &[&organisation, &name],
        )?
        .map(|row| Ok(row.try_get(0)?))
        .transpose()
}

fn load(client: &mut impl GenericClient, id: Uuid) -> StoreResult<Option<Profile>> {
    let Some(row) = client.query_opt(
        "SELECT name, description, modified_within_days, revision, updated_at, organisation
         FROM profiles WHERE id = $1",
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let mut strings = |sql: &str| -> StoreResult<Vec<String>> {
        client
            .query(sql, &[&id])?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
    };
    let tags = strings("SELECT tag FROM profile_tags WHERE profile_id = $1 ORDER BY tag")?;
    let members = strings(
        "SELECT u.username FROM profile_members m JOIN users u ON u.id = m.user_id
         WHERE m.profile_id = $1 ORDER BY u.username",
    )?;
    let guide_ids = client
        .query(
            "SELECT guide_id FROM profile_guides WHERE profile_id = $1 ORDER BY guide_id::text",
            &[&id],
        )?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect::<StoreResult<Vec<Uuid>>>()?;
    let days: Option<i64> = row.try_get(2)?;
    Ok(Some(Profile {
        id,
        name: row.try_get(0)?,
        organisation: row.try_get(5)?,
        description: row.try_get(1)?,
        guide_ids,
        tags,
        modified_within_days: days.map(|d| narrow(d, "day count")).transpose()?,
        revision: narrow(row.try_get(3)?, "revision")?,
        members,
        updated_at: from_unix(row.try_get(4)?)?,
    }))
}

fn require(tx: &mut impl GenericClient, organisation: &str, name: &str) -> StoreResult<Profile> {
    match find(tx, organisation, name)? {
        Some(id) => load(tx, id)?,
        None => None,
    }
    .ok_or_else(|| StoreError::NotFound(format!("there is no profile '{name}'")))
}

fn require_id(tx: &mut impl GenericClient, id: Uuid) -> StoreResult<Profile> {
    load(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("there is no profile {id}")))
}

fn name_taken(name: &str) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a profile named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

fn write_selection(tx: &mut Transaction<'_>, id: Uuid, spec: &ProfileSpec) -> StoreResult<()> {
    if let Some(guides) = &spec.guide_ids {
        tx.execute("DELETE FROM profile_guides WHERE profile_id = $1", &[&id])?;
        for guide in guides {
            tx.execute(
                "INSERT INTO profile_guides (profile_id, guide_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&id, guide],
            )?;
        }
    }
    if let Some(tags) = &spec.tags {
        tx.execute("DELETE FROM profile_tags WHERE profile_id = $1", &[&id])?;
        for tag in tags {
            tx.execute(
                "INSERT INTO profile_tags (profile_id, tag) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&id, tag],
            )?;
        }
    }
    Ok(())
}

impl ProfileStore for PostgresStore {
    fn create_profile(
        &self,
        spec: &ProfileSpec,
        organisation: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Profile> {
        let name = spec.name.clone().unwrap_or_default();
        let days = spec
            .modified_within_days
            .unwrap_or(Some(DEFAULT_MODIFIED_WITHIN_DAYS))
            .map(i64::from);
        self.write(|tx| {
            let id = Uuid::new_v4();
            tx.execute(
                "INSERT INTO profiles (id, name, description, modified_within_days, revision,
                                       created_at, updated_at, organisation)
                 VALUES ($1, $2, $3, $4, 1, $5, $5, $6)",
                &[
                    &id,
                    &name,
                    &spec.description.clone().unwrap_or_default(),
                    &days,
                    &unix(at),
                    &organisation,
                ],
            )
            .map_err(name_taken(&name))?;
            write_selection(tx, id, spec)?;
            require_id(tx, id)
        })
    }

    fn profiles(&self, organisation: Option<&str>) -> StoreResult<Vec<Profile>> {
        self.read(|c| {
            let ids = c
                .query(
                    "SELECT id FROM profiles WHERE $1::text IS NULL OR organisation = $1
                     ORDER BY organisation, name",
                    &[&organisation],
                )?
                .iter()
                .map(|row| Ok(row.try_get(0)?))
                .collect::<StoreResult<Vec<Uuid>>>()?;
            ids.into_iter().map(|id| require_id(c, id)).collect()
        })
    }

    fn profile(&self, organisation: &str, name: &str) -> StoreResult<Option<Profile>> {
        self.read(|c| match find(c, organisation, name)? {
            Some(id) => require_id(c, id).map(Some),
            None => Ok(None),
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
            let new_name = spec.name.clone().unwrap_or(current.name);
            let days = spec
                .modified_within_days
                .unwrap_or(current.modified_within_days)
                .map(i64::from);
            tx.execute(
                "UPDATE profiles SET name = $2, description = $3, modified_within_days = $4,
                                     revision = revision + 1, updated_at = $5
                 WHERE id = $1",
                &[
                    &current.id,
                    &new_name,
                    &spec.description.clone().unwrap_or(current.description),
                    &days,
                    &unix(at),
                ],
            )
            .map_err(name_taken(&new_name))?;
            write_selection(tx, current.id, spec)?;
            require_id(tx, current.id)
        })
    }

    fn delete_profile(&self, organisation: &str, name: &str) -> StoreResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM profiles WHERE organisation = $1 AND name = $2",
                &[&organisation, &name],
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
                .query_opt(
                    "SELECT p.name FROM profile_members m JOIN profiles p ON p.id = m.profile_id
                     WHERE m.user_id = $1",
                    &[&user_id],
                )?
                .map(|row| row.try_get(0))
                .transpose()?;
            match current {
                Some(name) if name == target.name => Ok(()),
                Some(name) => Err(StoreError::Conflict(format!(
                    "the user is already a member of the profile '{name}'; a user belongs to at most one profile"
                ))),
                None => {
                    tx.execute(
                        "INSERT INTO profile_members (user_id, profile_id) VALUES ($1, $2)",
                        &[&user_id, &target.id],
                    )?;
                    tx.execute(
                        "UPDATE profiles SET updated_at = $2 WHERE id = $1",
                        &[&target.id, &unix(at)],
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
                "DELETE FROM profile_members WHERE user_id = $1 AND profile_id = $2",
                &[&user_id, &target.id],
            )?;
            tx.execute(
                "UPDATE profiles SET updated_at = $2 WHERE id = $1",
                &[&target.id, &unix(at)],
            )?;
            Ok(changed == 1)
        })
    }

    fn profile_of(&self, user_id: Uuid) -> StoreResult<Option<Profile>> {
        self.read(|c| {
            let id: Option<Uuid> = c
                // One round trip (see postgres_accounts): `GET /v1/me` asks it every time.
                .query_typed_opt(
                    "SELECT profile_id FROM profile_members WHERE user_id = $1",
                    &[(&user_id, Type::UUID)],
                )?
                .map(|row| row.try_get(0))
                .transpose()?;
            id.map(|id| require_id(c, id)).transpose()
        })
    }

    fn guides_tagged(&self, tags: &[String]) -> StoreResult<Vec<Uuid>> {
        self.read(|c| {
            let mut ids = Vec::new();
            for tag in tags {
                for row in c.query("SELECT guide_id FROM guide_tags WHERE tag = $1", &[tag])? {
                    let id: Uuid = row.try_get(0)?;
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
                .query_opt(
                    "SELECT policy FROM lost_access_policies WHERE organisation = $1",
                    &[&organisation],
                )?
                .map(|row| row.try_get(0))
                .transpose()?;
            super::lost_access_of(policy)
        })
    }

    fn set_lost_access(&self, organisation: &str, policy: LostAccess) -> StoreResult<()> {
        self.write_rows(|tx| {
            tx.execute(
                "INSERT INTO lost_access_policies (organisation, policy) VALUES ($1, $2)
                 ON CONFLICT (organisation) DO UPDATE SET policy = EXCLUDED.policy",
                &[&organisation, &policy.as_str()],
            )?;
            Ok(())
        })
    }
}
