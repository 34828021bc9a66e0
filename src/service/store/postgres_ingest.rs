//! Telemetry events and step results in PostgreSQL: each stored once, by its device-made id (N5),
//! also when the same item reaches two instances at the same moment.

use postgres::Transaction;
use time::OffsetDateTime;
use uuid::Uuid;

use super::postgres::{PostgresStore, narrow};
use super::sqlite::{from_unix, unix};
use super::{IngestStore, StoreError, StoreResult, Stored, stored_value};
use crate::service::model::{
    AttributedResult, PhotoRecord, Stats, StepResult, TelemetryEvent, TelemetrySummary,
};

/// Tells how an `INSERT … ON CONFLICT (id) DO NOTHING` of the item `id` went: `inserted` rows
/// written, else the id was there already, resent by its owner or someone else's. The conflict
/// clause (not a look-up first) is what makes two instances storing the same id at once end with
/// one row.
fn outcome(
    tx: &mut Transaction<'_>,
    table: &str,
    id: Uuid,
    user_id: Uuid,
    inserted: u64,
) -> StoreResult<Stored> {
    if inserted == 1 {
        return Ok(Stored::New);
    }
    // `table` is one of the constants below, never input.
    let row = tx.query_opt(
        &format!("SELECT user_id FROM {table} WHERE id = $1"),
        &[&id],
    )?;
    let owner: Option<Uuid> = row.map(|row| row.try_get(0)).transpose()?;
    match owner {
        Some(owner) if owner == user_id => Ok(Stored::Duplicate),
        Some(_) => Ok(Stored::IdTaken),
        None => Err(StoreError::NotFound(format!(
            "{table} {id} vanished while storing it"
        ))),
    }
}

impl IngestStore for PostgresStore {
    fn store_telemetry(
        &self,
        user_id: Uuid,
        device_id: &str,
        events: &[TelemetryEvent],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write_rows(|tx| {
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                let inserted = tx.execute(
                    "INSERT INTO telemetry (id, user_id, device_id, kind, at, guide_id, step_id,
                                            duration_ms, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &event.id,
                        &user_id,
                        &device_id,
                        &event.kind,
                        &unix(event.at),
                        &event.guide_id,
                        &event.step_id,
                        &event.duration_ms.map(|d| d as i64),
                        &unix(at),
                    ],
                )?;
                outcomes.push(outcome(tx, "telemetry", event.id, user_id, inserted)?);
            }
            Ok(outcomes)
        })
    }

    fn store_summaries(
        &self,
        user_id: Uuid,
        device_id: &str,
        summaries: &[TelemetrySummary],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write_rows(|tx| {
            let mut outcomes = Vec::with_capacity(summaries.len());
            for summary in summaries {
                let by_kind = serde_json::to_string(&summary.by_kind)
                    .map_err(|e| StoreError::Corrupt(format!("summary counts: {e}")))?;
                let inserted = tx.execute(
                    "INSERT INTO telemetry_summaries (id, user_id, device_id, sessions, events,
                         by_kind, duration_ms, first_at, last_at, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &summary.id,
                        &user_id,
                        &device_id,
                        &(summary.sessions as i64),
                        &(summary.events as i64),
                        &by_kind,
                        &(summary.duration_ms as i64),
                        &unix(summary.first_at),
                        &unix(summary.last_at),
                        &unix(at),
                    ],
                )?;
                outcomes.push(outcome(
                    tx,
                    "telemetry_summaries",
                    summary.id,
                    user_id,
                    inserted,
                )?);
            }
            Ok(outcomes)
        })
    }

    fn store_results(
        &self,
        user_id: Uuid,
        device_id: &str,
        results: &[StepResult],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>> {
        self.write_rows(|tx| {
            let mut outcomes = Vec::with_capacity(results.len());
            for result in results {
                let inserted = tx.execute(
                    "INSERT INTO results (id, user_id, device_id, guide_id, version, step_id,
                                          completed_at, value, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &result.id,
                        &user_id,
                        &device_id,
                        &result.guide_id,
                        &i64::from(result.version),
                        &result.step_id,
                        &unix(result.completed_at),
                        &result.value.as_ref().map(|v| v.to_string()),
                        &unix(at),
                    ],
                )?;
                outcomes.push(outcome(tx, "results", result.id, user_id, inserted)?);
            }
            Ok(outcomes)
        })
    }

    fn results_of(&self, user_id: Uuid) -> StoreResult<Vec<StepResult>> {
        self.read(|c| {
            c.query(
                "SELECT id, guide_id, version, step_id, completed_at, value FROM results
                 WHERE user_id = $1 ORDER BY completed_at, id",
                &[&user_id],
            )?
            .iter()
            .map(|row| {
                let id: Uuid = row.try_get(0)?;
                let value: Option<String> = row.try_get(5)?;
                let value = stored_value(&id, value)?;
                Ok(StepResult {
                    id,
                    guide_id: row.try_get(1)?,
                    version: narrow(row.try_get(2)?, "version")?,
                    step_id: row.try_get(3)?,
                    completed_at: from_unix(row.try_get(4)?)?,
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
            c.query(
                "SELECT r.id, r.version, r.step_id, r.completed_at, r.value, u.username,
                        r.device_id
                 FROM results r JOIN users u ON u.id = r.user_id
                 WHERE r.guide_id = $1 AND r.completed_at >= $2
                 ORDER BY r.completed_at, r.id",
                &[&guide, &since.map_or(i64::MIN, unix)],
            )?
            .iter()
            .map(|row| {
                let id: Uuid = row.try_get(0)?;
                let value: Option<String> = row.try_get(4)?;
                let value = stored_value(&id, value)?;
                Ok(AttributedResult {
                    result: StepResult {
                        id,
                        guide_id: guide,
                        version: narrow(row.try_get(1)?, "version")?,
                        step_id: row.try_get(2)?,
                        completed_at: from_unix(row.try_get(3)?)?,
                        value,
                    },
                    username: row.try_get(5)?,
                    device_id: row.try_get(6)?,
                })
            })
            .collect()
        })
    }

    fn store_photo(&self, photo: &PhotoRecord) -> StoreResult<()> {
        // One atomic insert: two instances storing the same photo at once end with one row.
        self.write_rows(|tx| {
            tx.execute(
                "INSERT INTO photos (sha256, organisation, user_id, jpeg, received_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                &[
                    &photo.sha256,
                    &photo.organisation,
                    &photo.user_id,
                    &photo.jpeg,
                    &unix(photo.received_at),
                ],
            )?;
            Ok(())
        })
    }

    fn photo_owner(&self, sha256: &str) -> StoreResult<Option<(String, Uuid)>> {
        self.read(|c| {
            c.query_opt(
                "SELECT organisation, user_id FROM photos WHERE sha256 = $1",
                &[&sha256],
            )?
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
        })
    }

    fn photo(&self, sha256: &str) -> StoreResult<Option<PhotoRecord>> {
        self.read(|c| {
            c.query_opt(
                "SELECT organisation, user_id, jpeg, received_at FROM photos WHERE sha256 = $1",
                &[&sha256],
            )?
            .map(|row| {
                Ok(PhotoRecord {
                    sha256: sha256.to_owned(),
                    organisation: row.try_get(0)?,
                    user_id: row.try_get(1)?,
                    jpeg: row.try_get(2)?,
                    received_at: from_unix(row.try_get(3)?)?,
                })
            })
            .transpose()
        })
    }

    fn stats(&self) -> StoreResult<Stats> {
        self.read(|c| {
            let mut count = |sql: &str| -> StoreResult<u64> {
                narrow(c.query_one(sql, &[])?.try_get(0)?, "count")
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
