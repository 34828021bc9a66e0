//! The telemetry outbox (F9), pending step results (N5, S6) and sync state.
//!
//! Telemetry is kept event by event for the last N app sessions; when a new session pushes the
//! count past N, the oldest sessions become one counted [`TelemetrySummary`] — what happened is
//! never silently dropped, only coarsened. Every item has a stable id, so an upload that is
//! retried after a lost answer is recognised by the service and acknowledged once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::store::{format_time, parse_time};
use super::{
    CacheError, OutboxItem, PendingResult, Rejection, Store, TelemetryEvent, TelemetrySummary,
};

pub(super) fn uuid_of(text: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

impl Store {
    /// Starts an app session; past the bound, the oldest sessions are summarised.
    pub fn begin_app_session(&self, session_id: Uuid) -> Result<(), CacheError> {
        let limit = self.telemetry_sessions.load(Ordering::Relaxed);
        let now = format_time(self.clock.now());
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            t.execute(
                "INSERT OR IGNORE INTO app_sessions (session_id, started_at) VALUES (?1, ?2)",
                params![session_id.to_string(), now],
            )?;
            summarise_beyond(&t, limit)?;
            t.commit()?;
            Ok(())
        })
    }

    /// Records an event of an app session (registering the session if needed). Recording the
    /// same event id twice keeps one.
    pub fn record_event(&self, session_id: Uuid, event: &TelemetryEvent) -> Result<(), CacheError> {
        let limit = self.telemetry_sessions.load(Ordering::Relaxed);
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = t.execute(
                "INSERT OR IGNORE INTO app_sessions (session_id, started_at) VALUES (?1, ?2)",
                params![session_id.to_string(), format_time(event.at)],
            )?;
            t.execute(
                "INSERT OR IGNORE INTO telemetry
                     (id, app_session, kind, at, guide_id, step_id, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    event.id.to_string(),
                    session_id.to_string(),
                    event.kind,
                    format_time(event.at),
                    event.guide_id.map(|g| g.to_string()),
                    event.step_id,
                    event.duration_ms.map(|d| d as i64),
                ],
            )?;
            if inserted > 0 {
                summarise_beyond(&t, limit)?;
            }
            t.commit()?;
            Ok(())
        })
    }

    /// What waits to be uploaded, oldest first: summaries, then events; at most `limit`.
    pub fn pending_telemetry(&self, limit: usize) -> Result<Vec<OutboxItem>, CacheError> {
        self.run(|c| {
            let mut items = Vec::new();
            let mut statement = c.prepare(
                "SELECT id, sessions, events, first_at, last_at, by_kind, duration_ms
                 FROM telemetry_summaries ORDER BY first_at, id LIMIT ?1",
            )?;
            let summaries = statement.query_map([limit as i64], |r| {
                let by_kind: String = r.get(5)?;
                Ok(TelemetrySummary {
                    id: uuid_of(&r.get::<_, String>(0)?)?,
                    sessions: r.get::<_, i64>(1)? as u64,
                    events: r.get::<_, i64>(2)? as u64,
                    first_at: parse_time(&r.get::<_, String>(3)?)?,
                    last_at: parse_time(&r.get::<_, String>(4)?)?,
                    by_kind: serde_json::from_str(&by_kind).unwrap_or_default(),
                    duration_ms: r.get::<_, i64>(6)? as u64,
                })
            })?;
            for summary in summaries {
                items.push(OutboxItem::Summary(summary?));
            }
            let left = limit.saturating_sub(items.len());
            let mut statement = c.prepare(
                "SELECT id, kind, at, guide_id, step_id, duration_ms FROM telemetry
                 ORDER BY seq LIMIT ?1",
            )?;
            let events = statement.query_map([left as i64], |r| {
                Ok(TelemetryEvent {
                    id: uuid_of(&r.get::<_, String>(0)?)?,
                    kind: r.get(1)?,
                    at: parse_time(&r.get::<_, String>(2)?)?,
                    guide_id: r
                        .get::<_, Option<String>>(3)?
                        .as_deref()
                        .map(uuid_of)
                        .transpose()?,
                    step_id: r.get(4)?,
                    duration_ms: r.get::<_, Option<i64>>(5)?.map(|d| d as u64),
                })
            })?;
            for event in events {
                items.push(OutboxItem::Event(event?));
            }
            Ok(items)
        })
    }

    /// The service took these items (or had them already): forget them. Unknown ids are
    /// ignored, so acknowledging twice is harmless. Returns how many were removed.
    pub fn ack_telemetry(&self, ids: &[Uuid]) -> Result<usize, CacheError> {
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut removed = 0;
            for id in ids {
                let id = id.to_string();
                removed += t.execute("DELETE FROM telemetry WHERE id = ?1", [&id])?;
                removed += t.execute("DELETE FROM telemetry_summaries WHERE id = ?1", [&id])?;
            }
            // A session with nothing left to send no longer counts against the bound.
            t.execute(
                "DELETE FROM app_sessions WHERE NOT EXISTS
                   (SELECT 1 FROM telemetry WHERE app_session = app_sessions.session_id)",
                [],
            )?;
            t.commit()?;
            Ok(removed)
        })
    }

    /// Keeps a step result until the service has taken it (N5).
    pub fn add_result(&self, result: &PendingResult) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "INSERT OR IGNORE INTO pending_results
                     (id, guide_id, version, step_id, completed_at, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    result.id.to_string(),
                    result.guide_id.to_string(),
                    result.version,
                    result.step_id,
                    format_time(result.completed_at),
                    result.value.as_ref().map(|v| v.to_string()),
                ],
            )?;
            Ok(())
        })
    }

    /// Results not yet taken by the service, oldest first; rejected ones included (with their
    /// reason) so they can be shown until the user dismisses them.
    pub fn pending_results(&self) -> Result<Vec<PendingResult>, CacheError> {
        Ok(self
            .results()?
            .into_iter()
            .filter(|(_, sent)| !sent)
            .map(|(result, _)| result)
            .collect())
    }

    /// Every result kept, oldest first, and whether the service took it (N6 reports).
    pub fn results(&self) -> Result<Vec<(PendingResult, bool)>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare(
                "SELECT id, guide_id, version, step_id, completed_at, value, rejected_code,
                        rejected_reason, sent_at IS NOT NULL FROM pending_results ORDER BY seq",
            )?;
            let rows = statement.query_map([], |r| {
                let value: Option<String> = r.get(5)?;
                let code: Option<String> = r.get(6)?;
                let reason: Option<String> = r.get(7)?;
                let sent: bool = r.get(8)?;
                Ok((
                    PendingResult {
                        id: uuid_of(&r.get::<_, String>(0)?)?,
                        guide_id: uuid_of(&r.get::<_, String>(1)?)?,
                        version: r.get::<_, i64>(2)? as u32,
                        step_id: r.get(3)?,
                        completed_at: parse_time(&r.get::<_, String>(4)?)?,
                        value: value.and_then(|v| serde_json::from_str(&v).ok()),
                        rejected: code.map(|code| Rejection {
                            code,
                            reason: reason.unwrap_or_default(),
                        }),
                    },
                    sent,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The service accepted these results (or had them): they are not sent again, and stay for
    /// reports.
    pub fn ack_results(&self, ids: &[Uuid]) -> Result<usize, CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut removed = 0;
            for id in ids {
                removed += t.execute(
                    "UPDATE pending_results SET sent_at = ?2 WHERE id = ?1 AND sent_at IS NULL",
                    params![id.to_string(), now],
                )?;
            }
            t.commit()?;
            Ok(removed)
        })
    }

    /// N6: keeps a photo taken at a step (once per digest) until the service has it.
    pub fn add_photo(&self, sha256: &str, jpeg: &[u8]) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            c.execute(
                "INSERT OR IGNORE INTO photos (sha256, jpeg, taken_at) VALUES (?1, ?2, ?3)",
                params![sha256, jpeg, now],
            )?;
            Ok(())
        })
    }

    /// The digests of the photos the service does not have yet, oldest first.
    pub fn unsent_photos(&self) -> Result<Vec<String>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare(
                "SELECT sha256 FROM photos WHERE sent_at IS NULL ORDER BY taken_at, sha256",
            )?;
            let rows = statement.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    /// A photo kept here, by its digest.
    pub fn photo(&self, sha256: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.run(|c| {
            Ok(
                c.query_row("SELECT jpeg FROM photos WHERE sha256 = ?1", [sha256], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// The service has this photo: it is not sent again.
    pub fn ack_photo(&self, sha256: &str) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            c.execute(
                "UPDATE photos SET sent_at = ?2 WHERE sha256 = ?1 AND sent_at IS NULL",
                params![sha256, now],
            )?;
            Ok(())
        })
    }

    /// The service refused a result at sync (S6): keep it with the reason, to show the user.
    pub fn reject_result(&self, id: Uuid, code: &str, reason: &str) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "UPDATE pending_results SET rejected_code = ?2, rejected_reason = ?3 WHERE id = ?1",
                params![id.to_string(), code, reason],
            )?;
            Ok(())
        })
    }

    pub fn sync_state(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.run(|c| {
            Ok(
                c.query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    pub fn set_sync_state(&self, key: &str, value: &str) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(())
        })
    }
}

/// Folds the oldest sessions beyond `limit` into one summary record.
fn summarise_beyond(c: &Connection, limit: usize) -> rusqlite::Result<()> {
    let count: i64 = c.query_row("SELECT count(*) FROM app_sessions", [], |r| r.get(0))?;
    let excess = count - limit as i64;
    if excess <= 0 {
        return Ok(());
    }
    let oldest: Vec<String> = {
        let mut statement =
            c.prepare("SELECT session_id FROM app_sessions ORDER BY seq LIMIT ?1")?;
        statement
            .query_map([excess], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut events = 0u64;
    let mut duration_ms = 0u64;
    let mut first_at: Option<String> = None;
    let mut last_at: Option<String> = None;
    let mut started = c.prepare("SELECT started_at FROM app_sessions WHERE session_id = ?1")?;
    let mut select = c.prepare(
        "SELECT kind, count(*), coalesce(sum(duration_ms), 0), min(at), max(at)
         FROM telemetry WHERE app_session = ?1 GROUP BY kind",
    )?;
    for session in &oldest {
        let start: Option<String> = started.query_row([session], |r| r.get(0)).optional()?;
        for time in start.into_iter() {
            first_at = Some(first_at.map_or(time.clone(), |f| f.min(time.clone())));
            last_at = Some(last_at.map_or(time.clone(), |l| l.max(time)));
        }
        let rows = select.query_map([session], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        for row in rows {
            let (kind, count, duration, min_at, max_at) = row?;
            *by_kind.entry(kind).or_default() += count;
            events += count;
            duration_ms += duration;
            first_at = Some(first_at.map_or(min_at.clone(), |f| f.min(min_at)));
            last_at = Some(last_at.map_or(max_at.clone(), |l| l.max(max_at)));
        }
    }
    drop(select);
    drop(started);
    // Timestamps are stored as UTC RFC 3339 strings, so their text order is their time order.
    let (Some(first_at), Some(last_at)) = (first_at, last_at) else {
        return Ok(());
    };
    c.execute(
        "INSERT INTO telemetry_summaries
             (id, sessions, events, first_at, last_at, by_kind, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            Uuid::new_v4().to_string(),
            oldest.len() as i64,
            events as i64,
            first_at,
            last_at,
            serde_json::to_string(&by_kind).unwrap_or_default(),
            duration_ms as i64,
        ],
    )?;
    for session in &oldest {
        c.execute("DELETE FROM telemetry WHERE app_session = ?1", [session])?;
        c.execute("DELETE FROM app_sessions WHERE session_id = ?1", [session])?;
    }
    Ok(())
}
