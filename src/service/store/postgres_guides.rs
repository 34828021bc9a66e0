//! Guides, their immutable versions, tags and permissions in PostgreSQL.

use std::collections::{HashMap, HashSet};

use postgres::{GenericClient, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::postgres::{PostgresStore, narrow};
use super::sqlite::{from_unix, unix};
use super::{GuideStore, NewVersion, StepLookup, StoreError, StoreResult};
use crate::service::model::{AssetEntry, GuideSummary, Principal, VersionManifest};

const SUMMARY_SQL: &str = "SELECT g.id, g.organisation, v.title, v.description, g.active,
        g.latest_version, v.content_hash, v.published_at, v.total_bytes
    FROM guides g JOIN guide_versions v ON v.guide_id = g.id AND v.version = g.latest_version";

fn summary(row: &Row, tags: Vec<String>) -> StoreResult<GuideSummary> {
    Ok(GuideSummary {
        id: row.try_get(0)?,
        organisation: row.try_get(1)?,
        title: row.try_get(2)?,
        description: row.try_get(3)?,
        active: row.try_get(4)?,
        latest_version: narrow(row.try_get(5)?, "version")?,
        content_hash: row.try_get(6)?,
        published_at: from_unix(row.try_get(7)?)?,
        total_bytes: narrow(row.try_get(8)?, "byte count")?,
        tags,
    })
}

fn strings(client: &mut impl GenericClient, sql: &str, id: &Uuid) -> StoreResult<Vec<String>> {
    client
        .query(sql, &[id])?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
}

/// S7: every profile selecting the guide (by id or through a tag) gets a new revision.
fn bump_profiles_selecting(tx: &mut impl GenericClient, guide: Uuid) -> StoreResult<()> {
    tx.execute(
        "UPDATE profiles SET revision = revision + 1 WHERE id IN (
             SELECT profile_id FROM profile_guides WHERE guide_id = $1
             UNION
             SELECT pt.profile_id FROM profile_tags pt
                 JOIN guide_tags gt ON gt.tag = pt.tag WHERE gt.guide_id = $1)",
        &[&guide],
    )?;
    Ok(())
}

fn manifest(
    client: &mut impl GenericClient,
    id: Uuid,
    version: u32,
) -> StoreResult<Option<VersionManifest>> {
    let number = i64::from(version);
    let Some(row) = client.query_opt(
        "SELECT guide_json, content_hash, published_at, total_bytes FROM guide_versions
         WHERE guide_id = $1 AND version = $2",
        &[&id, &number],
    )?
    else {
        return Ok(None);
    };
    let assets = client
        .query(
            "SELECT path, sha256, bytes FROM version_assets
             WHERE guide_id = $1 AND version = $2 ORDER BY path",
            &[&id, &number],
        )?
        .iter()
        .map(|row| {
            Ok(AssetEntry {
                path: row.try_get(0)?,
                sha256: row.try_get(1)?,
                bytes: narrow(row.try_get(2)?, "byte count")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let json: String = row.try_get(0)?;
    let guide = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("guide {id} version {version}: {e}")))?;
    Ok(Some(VersionManifest {
        guide_id: id,
        version,
        content_hash: row.try_get(1)?,
        published_at: from_unix(row.try_get(2)?)?,
        total_bytes: narrow(row.try_get(3)?, "byte count")?,
        assets,
        guide,
    }))
}

/// The stored form of a principal: a user id, or a group name.
fn principal_key(
    tx: &mut impl GenericClient,
    principal: &Principal,
) -> StoreResult<(&'static str, String)> {
    match principal {
        Principal::Group(name) => Ok(("group", name.clone())),
        Principal::User(name) => {
            let row = tx.query_opt("SELECT id FROM users WHERE username = $1", &[name])?;
            match row {
                Some(row) => Ok(("user", row.try_get::<_, Uuid>(0)?.to_string())),
                None => Err(StoreError::NotFound(format!("there is no user '{name}'"))),
            }
        }
    }
}

impl GuideStore for PostgresStore {
    fn publish_version(&self, new: &NewVersion) -> StoreResult<VersionManifest> {
        self.write(|tx| {
            let id = new.guide.id;
            // FOR UPDATE: a second publish of the same guide waits here, and then (its snapshot
            // being older than the first's commit) is run again and numbers one past it.
            let existing = tx.query_opt(
                "SELECT latest_version, active, organisation FROM guides WHERE id = $1
                 FOR UPDATE",
                &[&id],
            )?;
            let existing: Option<(i64, bool, String)> = existing
                .map(|row| -> StoreResult<_> {
                    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
                })
                .transpose()?;
            if let Some((_, _, owner)) = &existing
                && *owner != new.guide.organisation
            {
                return Err(StoreError::OwnedElsewhere(id));
            }
            if let Some((_, false, _)) = existing {
                return Err(StoreError::Conflict(format!(
                    "the guide {id} is deactivated; reactivate it before publishing a new version"
                )));
            }
            let number = existing.map_or(1, |(latest, _, _)| latest + 1);
            let version: u32 = narrow(number, "version")?;
            let mut guide = new.guide.clone();
            guide.version = version;
            let at = unix(new.published_at);
            let total: u64 = new.assets.iter().map(|a| a.bytes).sum();
            tx.execute(
                "INSERT INTO guides (id, organisation, active, latest_version, created_by,
                                     created_at, updated_at)
                 VALUES ($1, $2, TRUE, $3, $4, $5, $5)
                 ON CONFLICT (id) DO UPDATE SET
                     latest_version = excluded.latest_version, updated_at = excluded.updated_at",
                &[&id, &guide.organisation, &number, &new.published_by, &at],
            )?;
            tx.execute(
                "INSERT INTO guide_versions (guide_id, version, title, description, content_hash,
                                             guide_json, total_bytes, published_by, published_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &id,
                    &number,
                    &guide.title,
                    &guide.description,
                    &new.content_hash,
                    &guide.to_json_pretty(),
                    &(total as i64),
                    &new.published_by,
                    &at,
                ],
            )?;
            for asset in &new.assets {
                tx.execute(
                    "INSERT INTO version_assets (guide_id, version, path, sha256, bytes)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &id,
                        &number,
                        &asset.path,
                        &asset.sha256,
                        &(asset.bytes as i64),
                    ],
                )?;
            }
            for step in guide.steps() {
                tx.execute(
                    "INSERT INTO version_steps (guide_id, version, step_id, capture)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&id, &number, &step.step.id, &super::capture_json(step.step)],
                )?;
            }
            bump_profiles_selecting(tx, id)?;
            manifest(tx, id, version)?
                .ok_or_else(|| StoreError::NotFound(format!("guide {id} version {version}")))
        })
    }

    fn guide(&self, id: Uuid) -> StoreResult<Option<GuideSummary>> {
        self.read(|c| {
            let Some(row) = c.query_opt(&format!("{SUMMARY_SQL} WHERE g.id = $1"), &[&id])? else {
                return Ok(None);
            };
            let tags = strings(
                c,
                "SELECT tag FROM guide_tags WHERE guide_id = $1 ORDER BY tag",
                &id,
            )?;
            summary(&row, tags).map(Some)
        })
    }

    fn guides(&self, organisation: Option<&str>) -> StoreResult<Vec<GuideSummary>> {
        self.read(|c| {
            // Two statements rather than `$1 IS NULL OR …`, as in SQLite: one organisation's
            // list is read through its index.
            let (tag_rows, summary_rows) = match organisation {
                Some(organisation) => (
                    c.query(
                        "SELECT t.guide_id, t.tag FROM guide_tags t JOIN guides g
                             ON g.id = t.guide_id
                         WHERE g.organisation = $1 ORDER BY t.tag",
                        &[&organisation],
                    )?,
                    c.query(
                        &format!("{SUMMARY_SQL} WHERE g.organisation = $1 ORDER BY v.title, g.id"),
                        &[&organisation],
                    )?,
                ),
                None => (
                    c.query("SELECT guide_id, tag FROM guide_tags ORDER BY tag", &[])?,
                    c.query(&format!("{SUMMARY_SQL} ORDER BY v.title, g.id"), &[])?,
                ),
            };
            let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
            for row in &tag_rows {
                tags.entry(row.try_get(0)?)
                    .or_default()
                    .push(row.try_get(1)?);
            }
            summary_rows
                .iter()
                .map(|row| {
                    let id: Uuid = row.try_get(0)?;
                    summary(row, tags.remove(&id).unwrap_or_default())
                })
                .collect()
        })
    }

    fn granted_guides(&self, user_id: Uuid) -> StoreResult<HashSet<Uuid>> {
        self.read(|c| {
            c.query(
                "SELECT guide_id FROM permissions
                     WHERE principal_kind = 'user' AND principal = $1
                 UNION
                 SELECT p.guide_id FROM permissions p JOIN group_members m
                     ON p.principal_kind = 'group' AND p.principal = m.group_name
                     WHERE m.user_id = $2",
                &[&user_id.to_string(), &user_id],
            )?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
        })
    }

    fn version_manifest(&self, id: Uuid, version: u32) -> StoreResult<Option<VersionManifest>> {
        self.read(|c| manifest(c, id, version))
    }

    fn step_lookup(&self, id: Uuid, version: u32, step_id: &str) -> StoreResult<StepLookup> {
        let number = i64::from(version);
        self.read(|c| {
            let row = c.query_one(
                "SELECT EXISTS (SELECT 1 FROM guide_versions WHERE guide_id = $1 AND version = $2),
                        EXISTS (SELECT 1 FROM version_steps
                                WHERE guide_id = $1 AND version = $2 AND step_id = $3),
                        (SELECT capture FROM version_steps
                         WHERE guide_id = $1 AND version = $2 AND step_id = $3)",
                &[&id, &number, &step_id],
            )?;
            let (version_exists, step_exists): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
            let capture: Option<String> = row.try_get(2)?;
            Ok(match (version_exists, step_exists) {
                (false, _) => StepLookup::NoSuchVersion,
                (true, false) => StepLookup::NoSuchStep,
                (true, true) => StepLookup::Found { capture },
            })
        })
    }

    fn blob_users(&self, sha256: &str) -> StoreResult<Option<(u64, Vec<Uuid>)>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT DISTINCT guide_id, bytes FROM version_assets WHERE sha256 = $1",
                &[&sha256],
            )?;
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let bytes = narrow(first.try_get(1)?, "byte count")?;
            let guides = rows
                .iter()
                .map(|row| Ok(row.try_get(0)?))
                .collect::<StoreResult<Vec<Uuid>>>()?;
            Ok(Some((bytes, guides)))
        })
    }

    fn set_active(&self, id: Uuid, active: bool, at: OffsetDateTime) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE guides SET active = $2, updated_at = $3 WHERE id = $1",
                &[&id, &active, &unix(at)],
            )?;
            if changed == 1 {
                bump_profiles_selecting(tx, id)?;
            }
            Ok(changed == 1)
        })
    }

    fn set_tags(&self, id: Uuid, tags: &[String], at: OffsetDateTime) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE guides SET updated_at = $2 WHERE id = $1",
                &[&id, &unix(at)],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            // Profiles that selected it through an old tag and those through a new one both change.
            bump_profiles_selecting(tx, id)?;
            tx.execute("DELETE FROM guide_tags WHERE guide_id = $1", &[&id])?;
            for tag in tags {
                tx.execute(
                    "INSERT INTO guide_tags (guide_id, tag) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&id, tag],
                )?;
            }
            bump_profiles_selecting(tx, id)?;
            Ok(true)
        })
    }

    fn set_offline_lease(&self, id: Uuid, seconds: Option<i64>) -> StoreResult<bool> {
        self.write(|tx| {
            if tx
                .query_opt("SELECT 1 FROM guides WHERE id = $1", &[&id])?
                .is_none()
            {
                return Ok(false);
            }
            match seconds {
                Some(seconds) => tx.execute(
                    "INSERT INTO guide_leases (guide_id, seconds) VALUES ($1, $2)
                     ON CONFLICT (guide_id) DO UPDATE SET seconds = excluded.seconds",
                    &[&id, &seconds],
                )?,
                None => tx.execute("DELETE FROM guide_leases WHERE guide_id = $1", &[&id])?,
            };
            Ok(true)
        })
    }

    fn offline_lease(&self, id: Uuid) -> StoreResult<Option<i64>> {
        self.read(|c| {
            c.query_opt(
                "SELECT seconds FROM guide_leases WHERE guide_id = $1",
                &[&id],
            )?
            .map(|row| Ok(row.try_get(0)?))
            .transpose()
        })
    }

    fn grant(&self, id: Uuid, to: &Principal, at: OffsetDateTime) -> StoreResult<()> {
        self.write(|tx| {
            let (kind, key) = principal_key(tx, to)?;
            tx.execute(
                "INSERT INTO permissions (guide_id, principal_kind, principal, granted_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&id, &kind, &key, &unix(at)],
            )?;
            Ok(())
        })
    }

    fn revoke(&self, id: Uuid, from: &Principal) -> StoreResult<bool> {
        self.write(|tx| {
            let (kind, key) = principal_key(tx, from)?;
            let changed = tx.execute(
                "DELETE FROM permissions
                 WHERE guide_id = $1 AND principal_kind = $2 AND principal = $3",
                &[&id, &kind, &key],
            )?;
            Ok(changed == 1)
        })
    }

    fn grants(&self, id: Uuid) -> StoreResult<Vec<Principal>> {
        self.read(|c| {
            c.query(
                "SELECT p.principal_kind, COALESCE(u.username, p.principal)
                 FROM permissions p
                 LEFT JOIN users u ON p.principal_kind = 'user' AND u.id::text = p.principal
                 WHERE p.guide_id = $1 ORDER BY 1, 2",
                &[&id],
            )?
            .iter()
            .map(|row| {
                let kind: String = row.try_get(0)?;
                let name: String = row.try_get(1)?;
                Ok(match kind.as_str() {
                    "user" => Principal::User(name),
                    _ => Principal::Group(name),
                })
            })
            .collect()
        })
    }
}
