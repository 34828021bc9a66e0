//! Telemetry events and step results in SQLite: each stored once, by its device-made id (N5).

use rusqlite::{OptionalExtension, Transaction, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sqlite::{SqliteStore, from_unix, unix, uuid};
use super::{IngestStore, StoreError, StoreResult, Stored, stored_value};
use crate::service::model::{
    AttributedResult, PhotoRecord, Stats, StepResult, TelemetryEvent, TelemetrySummary,
};

/// Inserts unless the id exists; tells whether it was new, resent by its owner, or someone else's.
fn insert_once(
    tx: &Transaction<'_>,
    table: &str,
    id: Uuid,
    user_id: Uuid,
    insert: impl FnOnce() -> rusqlite::Result<usize>,
) -> StoreResult<Stored> {
    // `table` is one of the constants below, never input.
    let owner: Option<String> = tx
        .prepare_cached(&format!("SELECT user_id FROM {table} WHERE id = ?1"))?
        .query_row(params![id.to_string()], |row| row.get(0))
        .optional()?;
    match owner {
        Some(owner) if owner == user_id.to_string() => Ok(Stored::Duplicate),
        Some(_) => Ok(Stored::IdTaken),
        None => {
            insert()?;
            Ok(Stored::New)
        }
    }
}

impl IngestStore for SqliteStore {
    fn store_telemetry(
        &self,
        user_id: Uuid,
        device_id: &str,
        events: &[TelemetryEvent],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write(|tx| {
            events
                .iter()
                .map(|event| {
                    insert_once(tx, "telemetry", event.id, user_id, || {
                        tx.execute(
                            "INSERT INTO telemetry (id, user_id, device_id, kind, at, guide_id,
                                                    step_id, duration_ms, received_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            params![
                                event.id.to_string(),
                                user_id.to_string(),
                                device_id,
                                event.kind,
                                unix(event.at),
                                event.guide_id.map(|g| g.to_string()),
                                event.step_id,
                                event.duration_ms.map(|d| d as i64),
                                unix(at)
                            ],
                        )
                    })
                })
                .collect()
        })
    }

    fn store_summaries(
        &self,
        user_id: Uuid,
        device_id: &str,
        summaries: &[TelemetrySummary],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write(|tx| {
            summaries
                .iter()
                .map(|summary| {
                    let by_kind = serde_json::to_string(&summary.by_kind)
                        .map_err(|e| StoreError::Corrupt(format!("summary counts: {e}")))?;
                    insert_once(tx, "telemetry_summaries", summary.id, user_id, || {
                        tx.execute(
                            "INSERT INTO telemetry_summaries (id, user_id, device_id, sessions,
                                 events, by_kind, duration_ms, first_at, last_at, received_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                            params![
                                summary.id.to_string(),
                                user_id.to_string(),
                                device_id,
                                summary.sessions as i64,
                                summary.events as i64,
                                by_kind,
                                summary.duration_ms as i64,
                                unix(summary.first_at),
                                unix(summary.last_at),
                                unix(at)
                            ],
                        )
                    })
                })
                .collect()
        })
    }

    fn store_results(
        &self,
        user_id: Uuid,
        device_id: &str,
        results: &[StepResult],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write(|tx| {
            results
                .iter()
                .map(|result| {
                    insert_once(tx, "results", result.id, user_id, || {
                        tx.execute(
                            "INSERT INTO results (id, user_id, device_id, guide_id, version,
                                                  step_id, completed_at, value, received_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            params![
                                result.id.to_string(),
                                user_id.to_string(),
                                device_id,
                                result.guide_id.to_string(),
                                result.version,
                                result.step_id,
                                unix(result.completed_at),
                                result.value.as_ref().map(|v| v.to_string()),
                                unix(at)
                            ],
                        )
                    })
                })
                .collect()
        })
    }

    fn results_of(&self, user_id: Uuid) -> StoreResult<Vec<StepResult>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT id, guide_id, version, step_id, completed_at, value FROM results
                     WHERE user_id = ?1 ORDER BY completed_at, id",
                )?
                .query_map(params![user_id.to_string()], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, u32>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, Option<String>>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, guide, version, step_id, completed_at, value)| {
                    let value = stored_value(&id, value)?;
                    Ok(StepResult {
                        id: uuid(&id)?,
                        guide_id: uuid(&guide)?,
                        version,
                        step_id,
                        completed_at: from_unix(completed_at)?,
                        value,
                    })
                })
                .collect()
        })
    }

    fn results_of_guide(
        &self,
        guide: Uuid,
        since: Option<OffsetDateTime>,
    ) -> StoreResult<Vec<AttributedResult>> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT r.id, r.version, r.step_id, r.completed_at, r.value, u.username,
                            r.device_id
                     FROM results r JOIN users u ON u.id = r.user_id
                     WHERE r.guide_id = ?1 AND r.completed_at >= ?2
                     ORDER BY r.completed_at, r.id",
                )?
                .query_map(
                    params![guide.to_string(), since.map_or(i64::MIN, unix)],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, u32>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, String>(5)?,
                            row.get::<_, String>(6)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, version, step_id, at, value, username, device_id)| {
                    let value = stored_value(&id, value)?;
                    Ok(AttributedResult {
                        result: StepResult {
                            id: uuid(&id)?,
                            guide_id: guide,
                            version,
                            step_id,
                            completed_at: from_unix(at)?,
                            value,
                        },
                        username,
                        device_id,
                    })
                })
                .collect()
        })
    }

    fn store_photo(&self, photo: &PhotoRecord) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO photos (sha256, organisation, user_id, jpeg, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    photo.sha256,
                    photo.organisation,
                    photo.user_id.to_string(),
                    photo.jpeg,
                    unix(photo.received_at),
                ],
            )?;
            Ok(())
        })
    }

    fn photo_owner(&self, sha256: &str) -> StoreResult<Option<(String, Uuid)>> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT organisation, user_id FROM photos WHERE sha256 = ?1",
                    [sha256],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            row.map(|(organisation, user)| Ok((organisation, uuid(&user)?)))
                .transpose()
        })
    }

    fn photo(&self, sha256: &str) -> StoreResult<Option<PhotoRecord>> {
        self.read(|c| {
            let row: Option<(String, String, Vec<u8>, i64)> = c
                .query_row(
                    "SELECT organisation, user_id, jpeg, received_at FROM photos WHERE sha256 = ?1",
                    [sha256],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            row.map(|(organisation, user, jpeg, at)| {
                Ok(PhotoRecord {
                    sha256: sha256.to_owned(),
                    organisation,
                    user_id: uuid(&user)?,
                    jpeg,
                    received_at: from_unix(at)?,
                })
            })
            .transpose()
        })
    }

    fn stats(&self) -> StoreResult<Stats> {
        self.read(|c| {
            let count = |sql: &str| -> StoreResult<u64> {
                Ok(c.query_row(sql, [], |row| row.get::<_, i64>(0))? as u64)
            };
            Ok(Stats {
                users: count("SELECT COUNT(*) FROM users")?,
                guides: count("SELECT COUNT(*) FROM guides")?,
                versions: count("SELECT COUNT(*) FROM guide_versions")?,
                blobs: count("SELECT COUNT(DISTINCT sha256) FROM version_assets")?,
                telemetry_events: count("SELECT COUNT(*) FROM telemetry")?,
                telemetry_summaries: count("SELECT COUNT(*) FROM telemetry_summaries")?,
                results: count("SELECT COUNT(*) FROM results")?,
            })
        })
    }
}
