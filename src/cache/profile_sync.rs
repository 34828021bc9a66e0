//! What an offline-profile sync keeps in the cache (S2, S3, S8): the guides the profile holds,
//! the guides the user opened themselves, and a history of what each sync downloaded.

use std::collections::HashSet;

use rusqlite::{TransactionBehavior, params};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::outbox::uuid_of;
use super::store::{format_time, parse_time};
use super::{CacheError, Store};
use crate::app::access::LostAccess;

/// Syncs remembered in the data-usage history; older ones are dropped.
pub const DATA_USAGE_KEPT: usize = 100;

/// One sync's bytes (S8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataUsage {
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// What the plan said the sync would download.
    pub planned_bytes: u64,
    /// What it did download.
    pub downloaded_bytes: u64,
    /// Guide versions it stored.
    pub guides: u32,
    /// "done", or what stopped it.
    pub outcome: String,
}

/// Key of `sync_state` for the organisation's S6 policy, as the last manifest said it.
const LOST_ACCESS: &str = "profile.lost_access";

impl Store {
    /// S6: what to do with a copy the service refused, as the last profile manifest said (the
    /// copy locks until a manifest says otherwise).
    pub fn lost_access(&self) -> Result<LostAccess, CacheError> {
        Ok(self
            .sync_state(LOST_ACCESS)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    pub fn set_lost_access(&self, policy: LostAccess) -> Result<(), CacheError> {
        let text = serde_json::to_string(&policy).unwrap_or_default();
        self.set_sync_state(LOST_ACCESS, &text)
    }

    /// The guides the offline profile holds on this device, as of its last sync.
    pub fn profile_guides(&self) -> Result<HashSet<Uuid>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare("SELECT guide_id FROM profile_guides")?;
            let ids = statement
                .query_map([], |r| uuid_of(&r.get::<_, String>(0)?))?
                .collect::<rusqlite::Result<HashSet<Uuid>>>()?;
            Ok(ids)
        })
    }

    /// The profile (at `revision`) now holds exactly `guides`.
    pub fn set_profile_guides(&self, guides: &[Uuid], revision: u64) -> Result<(), CacheError> {
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            t.execute("DELETE FROM profile_guides", [])?;
            for id in guides {
                t.execute(
                    "INSERT OR REPLACE INTO profile_guides (guide_id, revision) VALUES (?1, ?2)",
                    params![id.to_string(), revision as i64],
                )?;
            }
            t.commit()?;
            Ok(())
        })
    }

    /// The user opened `guide` themselves: it stays when it leaves the profile (S2).
    pub fn note_opened_by_user(&self, guide: Uuid) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            c.execute(
                "INSERT OR REPLACE INTO opened_guides (guide_id, opened_at) VALUES (?1, ?2)",
                params![guide.to_string(), now],
            )?;
            Ok(())
        })
    }

    /// The guides the user opened themselves.
    pub fn opened_by_user(&self) -> Result<HashSet<Uuid>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare("SELECT guide_id FROM opened_guides")?;
            let ids = statement
                .query_map([], |r| uuid_of(&r.get::<_, String>(0)?))?
                .collect::<rusqlite::Result<HashSet<Uuid>>>()?;
            Ok(ids)
        })
    }

    /// Adds a sync to the data-usage history, keeping the last [`DATA_USAGE_KEPT`].
    pub fn record_data_usage(&self, usage: &DataUsage) -> Result<(), CacheError> {
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            t.execute(
                "INSERT INTO data_usage
                     (started_at, finished_at, planned_bytes, downloaded_bytes, guides, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    format_time(usage.started_at),
                    format_time(usage.finished_at),
                    usage.planned_bytes as i64,
                    usage.downloaded_bytes as i64,
                    usage.guides,
                    usage.outcome,
                ],
            )?;
            t.execute(
                "DELETE FROM data_usage WHERE seq NOT IN
                     (SELECT seq FROM data_usage ORDER BY seq DESC LIMIT ?1)",
                [DATA_USAGE_KEPT as i64],
            )?;
            t.commit()?;
            Ok(())
        })
    }

    /// The data-usage history, newest first, at most `limit` syncs.
    pub fn data_usage(&self, limit: usize) -> Result<Vec<DataUsage>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare(
                "SELECT started_at, finished_at, planned_bytes, downloaded_bytes, guides, outcome
                 FROM data_usage ORDER BY seq DESC LIMIT ?1",
            )?;
            let rows = statement
                .query_map([limit as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, u32>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?
        .into_iter()
        .map(
            |(started, finished, planned, downloaded, guides, outcome)| {
                Ok(DataUsage {
                    started_at: parse_time(&started)?,
                    finished_at: parse_time(&finished)?,
                    planned_bytes: planned.max(0) as u64,
                    downloaded_bytes: downloaded.max(0) as u64,
                    guides,
                    outcome,
                })
            },
        )
        .collect()
    }
}
