//! Guides, their immutable versions, tags and permissions in SQLite.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sqlite::{SqliteStore, from_unix, unix, uuid};
use super::{GuideStore, NewVersion, StepLookup, StoreError, StoreResult};
use crate::service::model::{AssetEntry, GuideSummary, Principal, VersionManifest};

const SUMMARY_SQL: &str = "SELECT g.id, g.organisation, v.title, v.description, g.active,
        g.latest_version, v.content_hash, v.published_at, v.total_bytes
    FROM guides g JOIN guide_versions v ON v.guide_id = g.id AND v.version = g.latest_version";

type SummaryRow = (String, String, String, String, bool, u32, String, i64, i64);

fn summary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn summary(raw: SummaryRow, tags: Vec<String>) -> StoreResult<GuideSummary> {
    let (id, organisation, title, description, active, latest, hash, published, bytes) = raw;
    Ok(GuideSummary {
        id: uuid(&id)?,
        organisation,
        title,
        description,
        active,
        latest_version: latest,
        content_hash: hash,
        published_at: from_unix(published)?,
        total_bytes: bytes as u64,
        tags,
    })
}

fn tags_of(connection: &Connection, id: Uuid) -> StoreResult<Vec<String>> {
    Ok(connection
        .prepare_cached("SELECT tag FROM guide_tags WHERE guide_id = ?1 ORDER BY tag")?
        .query_map(params![id.to_string()], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?)
}

/// S7: every profile selecting the guide (by id or through a tag) gets a new revision.
fn bump_profiles_selecting(tx: &Transaction<'_>, guide: Uuid) -> StoreResult<()> {
    tx.execute(
        "UPDATE profiles SET revision = revision + 1 WHERE id IN (
             SELECT profile_id FROM profile_guides WHERE guide_id = ?1
             UNION
             SELECT pt.profile_id FROM profile_tags pt
                 JOIN guide_tags gt ON gt.tag = pt.tag WHERE gt.guide_id = ?1)",
        params![guide.to_string()],
    )?;
    Ok(())
}

fn manifest(
    connection: &Connection,
    id: Uuid,
    version: u32,
) -> StoreResult<Option<VersionManifest>> {
    let raw = connection
        .prepare_cached(
            "SELECT guide_json, content_hash, published_at, total_bytes FROM guide_versions
             WHERE guide_id = ?1 AND version = ?2",
        )?
        .query_row(params![id.to_string(), version], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    let Some((json, content_hash, published_at, total_bytes)) = raw else {
        return Ok(None);
    };
    let assets = connection
        .prepare_cached(
            "SELECT path, sha256, bytes FROM version_assets
             WHERE guide_id = ?1 AND version = ?2 ORDER BY path",
        )?
        .query_map(params![id.to_string(), version], |row| {
            Ok(AssetEntry {
                path: row.get(0)?,
                sha256: row.get(1)?,
                bytes: row.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let guide = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("guide {id} version {version}: {e}")))?;
    Ok(Some(VersionManifest {
        guide_id: id,
        version,
        content_hash,
        published_at: from_unix(published_at)?,
        total_bytes: total_bytes as u64,
        assets,
        guide,
    }))
}

/// The stored form of a principal: a user id, or a group name.
fn principal_key(tx: &Connection, principal: &Principal) -> StoreResult<(&'static str, String)> {
    match principal {
        Principal::Group(name) => Ok(("group", name.clone())),
        Principal::User(name) => {
            let id: Option<String> = tx
                .prepare_cached("SELECT id FROM users WHERE username = ?1")?
                .query_row(params![name], |row| row.get(0))
                .optional()?;
            id.map(|id| ("user", id))
                .ok_or_else(|| StoreError::NotFound(format!("there is no user '{name}'")))
        }
    }
}

impl GuideStore for SqliteStore {
    fn publish_version(&self, new: &NewVersion) -> StoreResult<VersionManifest> {
        self.write(|tx| {
            let id = new.guide.id;
            let existing: Option<(u32, bool, String)> = tx
                .query_row(
                    "SELECT latest_version, active, organisation FROM guides WHERE id = ?1",
                    params![id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            // Checked here too, in the transaction, so two publishes racing for one id cannot
            // both win (N4).
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
            let version = existing.map_or(1, |(latest, _, _)| latest + 1);
            let mut guide = new.guide.clone();
            guide.version = version;
            let at = unix(new.published_at);
            let total: u64 = new.assets.iter().map(|a| a.bytes).sum();
            tx.execute(
                "INSERT INTO guides (id, organisation, active, latest_version, created_by,
                                     created_at, updated_at)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5)
                 ON CONFLICT (id) DO UPDATE SET
                     latest_version = excluded.latest_version, updated_at = excluded.updated_at",
                params![
                    id.to_string(),
                    guide.organisation,
                    version,
                    new.published_by.to_string(),
                    at
                ],
            )?;
            tx.execute(
                "INSERT INTO guide_versions (guide_id, version, title, description, content_hash,
                                             guide_json, total_bytes, published_by, published_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id.to_string(),
                    version,
                    guide.title,
                    guide.description,
                    new.content_hash,
                    guide.to_json_pretty(),
                    total as i64,
                    new.published_by.to_string(),
                    at
                ],
            )?;
            for asset in &new.assets {
                tx.execute(
                    "INSERT INTO version_assets (guide_id, version, path, sha256, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id.to_string(),
                        version,
                        asset.path,
                        asset.sha256,
                        asset.bytes as i64
                    ],
                )?;
            }
            for step in guide.steps() {
                tx.execute(
                    "INSERT OR IGNORE INTO version_steps (guide_id, version, step_id, capture)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id.to_string(),
                        version,
                        step.step.id,
                        super::capture_json(step.step)
                    ],
                )?;
            }
            bump_profiles_selecting(tx, id)?;
            manifest(tx, id, version)?
                .ok_or_else(|| StoreError::NotFound(format!("guide {id} version {version}")))
        })
    }

    fn guide(&self, id: Uuid) -> StoreResult<Option<GuideSummary>> {
        self.read(|c| {
            let raw = c
                .prepare_cached(&format!("{SUMMARY_SQL} WHERE g.id = ?1"))?
                .query_row(params![id.to_string()], summary_row)
                .optional()?;
            raw.map(|raw| summary(raw, tags_of(c, id)?)).transpose()
        })
    }

    fn guides(&self, organisation: Option<&str>) -> StoreResult<Vec<GuideSummary>> {
        // Two statements rather than `?1 IS NULL OR …`, so that one organisation's list is read
        // through its index and every organisation's (a server-wide admin, the command line)
        // through no filter at all.
        let (tags_sql, summaries_sql, bound): (&str, String, Vec<&str>) = match organisation {
            Some(organisation) => (
                "SELECT t.guide_id, t.tag FROM guide_tags t JOIN guides g ON g.id = t.guide_id
                 WHERE g.organisation = ?1 ORDER BY t.tag",
                format!("{SUMMARY_SQL} WHERE g.organisation = ?1 ORDER BY v.title, g.id"),
                vec![organisation],
            ),
            None => (
                "SELECT guide_id, tag FROM guide_tags ORDER BY tag",
                format!("{SUMMARY_SQL} ORDER BY v.title, g.id"),
                Vec::new(),
            ),
        };
        self.read(|c| {
            let mut tags: HashMap<String, Vec<String>> = HashMap::new();
            let mut statement = c.prepare_cached(tags_sql)?;
            let rows = statement.query_map(params_from_iter(&bound), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            for row in rows {
                let (guide, tag): (String, String) = row?;
                tags.entry(guide).or_default().push(tag);
            }
            let raw = c
                .prepare_cached(&summaries_sql)?
                .query_map(params_from_iter(&bound), summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter()
                .map(|raw| {
                    let guide_tags = tags.remove(&raw.0).unwrap_or_default();
                    summary(raw, guide_tags)
                })
                .collect()
        })
    }

    fn granted_guides(&self, user_id: Uuid) -> StoreResult<HashSet<Uuid>> {
        self.read(|c| {
            let ids = c
                .prepare_cached(
                    "SELECT guide_id FROM permissions
                         WHERE principal_kind = 'user' AND principal = ?1
                     UNION
                     SELECT p.guide_id FROM permissions p JOIN group_members m
                         ON p.principal_kind = 'group' AND p.principal = m.group_name
                         WHERE m.user_id = ?1",
                )?
                .query_map(params![user_id.to_string()], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter().map(|id| uuid(id)).collect()
        })
    }

    fn version_manifest(&self, id: Uuid, version: u32) -> StoreResult<Option<VersionManifest>> {
        self.read(|c| manifest(c, id, version))
    }

    fn step_lookup(&self, id: Uuid, version: u32, step_id: &str) -> StoreResult<StepLookup> {
        self.read(|c| {
            let version_exists = c
                .prepare_cached(
                    "SELECT 1 FROM guide_versions WHERE guide_id = ?1 AND version = ?2",
                )?
                .exists(params![id.to_string(), version])?;
            if !version_exists {
                return Ok(StepLookup::NoSuchVersion);
            }
            let step: Option<Option<String>> = c
                .prepare_cached(
                    "SELECT capture FROM version_steps
                     WHERE guide_id = ?1 AND version = ?2 AND step_id = ?3",
                )?
                .query_row(params![id.to_string(), version, step_id], |row| row.get(0))
                .optional()?;
            Ok(match step {
                Some(capture) => StepLookup::Found { capture },
                None => StepLookup::NoSuchStep,
            })
        })
    }

    fn blob_users(&self, sha256: &str) -> StoreResult<Option<(u64, Vec<Uuid>)>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT DISTINCT guide_id, bytes FROM version_assets WHERE sha256 = ?1",
                )?
                .query_map(params![sha256], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(&(_, bytes)) = rows.first() else {
                return Ok(None);
            };
            let guides = rows
                .iter()
                .map(|(id, _)| uuid(id))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Some((bytes as u64, guides)))
        })
    }

    fn set_active(&self, id: Uuid, active: bool, at: OffsetDateTime) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE guides SET active = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.to_string(), active, unix(at)],
            )?;
            if changed == 1 {
                bump_profiles_selecting(tx, id)?;
            }
            Ok(changed == 1)
        })
    }

    fn set_offline_lease(&self, id: Uuid, seconds: Option<i64>) -> StoreResult<bool> {
        self.write(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM guides WHERE id = ?1")?
                .exists(params![id.to_string()])?;
            if !exists {
                return Ok(false);
            }
            match seconds {
                Some(seconds) => tx.execute(
                    "INSERT INTO guide_leases (guide_id, seconds) VALUES (?1, ?2)
                     ON CONFLICT (guide_id) DO UPDATE SET seconds = excluded.seconds",
                    params![id.to_string(), seconds],
                )?,
                None => tx.execute(
                    "DELETE FROM guide_leases WHERE guide_id = ?1",
                    params![id.to_string()],
                )?,
            };
            Ok(true)
        })
    }

    fn offline_lease(&self, id: Uuid) -> StoreResult<Option<i64>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT seconds FROM guide_leases WHERE guide_id = ?1")?
                    .query_row(params![id.to_string()], |row| row.get(0))
                    .optional()?,
            )
        })
    }

    fn set_tags(&self, id: Uuid, tags: &[String], at: OffsetDateTime) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE guides SET updated_at = ?2 WHERE id = ?1",
                params![id.to_string(), unix(at)],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            // Profiles that selected it through an old tag and those through a new one both change.
            bump_profiles_selecting(tx, id)?;
            tx.execute(
                "DELETE FROM guide_tags WHERE guide_id = ?1",
                params![id.to_string()],
            )?;
            for tag in tags {
                tx.execute(
                    "INSERT OR IGNORE INTO guide_tags (guide_id, tag) VALUES (?1, ?2)",
                    params![id.to_string(), tag],
                )?;
            }
            bump_profiles_selecting(tx, id)?;
            Ok(true)
        })
    }

    fn grant(&self, id: Uuid, to: &Principal, at: OffsetDateTime) -> StoreResult<()> {
        self.write(|tx| {
            let (kind, key) = principal_key(tx, to)?;
            tx.execute(
                "INSERT OR IGNORE INTO permissions (guide_id, principal_kind, principal, granted_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), kind, key, unix(at)],
            )?;
            Ok(())
        })
    }

    fn revoke(&self, id: Uuid, from: &Principal) -> StoreResult<bool> {
        self.write(|tx| {
            let (kind, key) = principal_key(tx, from)?;
            let changed = tx.execute(
                "DELETE FROM permissions
                 WHERE guide_id = ?1 AND principal_kind = ?2 AND principal = ?3",
                params![id.to_string(), kind, key],
            )?;
            Ok(changed == 1)
        })
    }

    fn grants(&self, id: Uuid) -> StoreResult<Vec<Principal>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT p.principal_kind, COALESCE(u.username, p.principal)
                     FROM permissions p
                     LEFT JOIN users u ON p.principal_kind = 'user' AND u.id = p.principal
                     WHERE p.guide_id = ?1 ORDER BY 1, 2",
                )?
                .query_map(params![id.to_string()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|(kind, name)| match kind.as_str() {
                    "user" => Principal::User(name),
                    _ => Principal::Group(name),
                })
                .collect())
        })
    }
}
