//! Telemetry and step results from devices, checked at sync time against the permissions of
//! now (S6), each stored once (N5).

use time::OffsetDateTime;
use uuid::Uuid;

use super::Service;
use crate::guide::capture::Capture;
use crate::service::error::ServiceError;
use crate::service::model::{
    Caller, IngestOutcome, Rejected, StepResult, TelemetryEvent, TelemetrySummary,
};
use crate::service::store::{StepLookup, Stored};

/// Items in one request; a device with more sends several batches.
pub const MAX_BATCH: usize = 1_000;
const MAX_KIND_CHARS: usize = 64;
const MAX_STEP_ID_CHARS: usize = 128;
/// Kinds in one summary: a device records a handful; more is not a summary of ours.
const MAX_SUMMARY_KINDS: usize = 64;
/// A recorded value (a reading, a checkbox, a short note) as JSON text.
const MAX_VALUE_BYTES: usize = 16 * 1024;
/// One event's duration: a step viewed for longer than 30 days is a broken clock or a forgery.
const MAX_EVENT_DURATION_MS: u64 = 30 * 24 * 3600 * 1000;
/// Times a device may report: 2000-01-01 up to (not including) 2100-01-01 UTC. Wide enough for
/// any real device clock, narrow enough that year 0000 or 9999 never reaches the reports.
const EARLIEST: OffsetDateTime = time::macros::datetime!(2000-01-01 00:00 UTC);
const LATEST: OffsetDateTime = time::macros::datetime!(2100-01-01 00:00 UTC);

/// Why an item was not stored: the item's fault (rejected, in the answer, so the device drops
/// it), or the service's (the whole request fails, so the device sends it again: a database
/// restarting must never turn into a rejected result).
enum Refusal {
    Rejected(Rejected),
    Failed(ServiceError),
}

/// A check that failed: the caller's fault becomes a rejection, the service's own (its store,
/// its disk) fails the request.
fn rejected_or_failed(id: Uuid, error: ServiceError) -> Refusal {
    match error {
        error if error.code() == "internal" => Refusal::Failed(error),
        error => Refusal::Rejected(Rejected {
            id,
            code: error.code().to_owned(),
            reason: error.to_string(),
        }),
    }
}

/// A time field outside [`EARLIEST`, `LATEST`), named.
fn check_time(id: Uuid, field: &str, at: OffsetDateTime) -> Result<(), Refusal> {
    if (EARLIEST..LATEST).contains(&at) {
        return Ok(());
    }
    let shown = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string());
    Err(invalid(
        id,
        format!("{field} is {shown}; times must be from the year 2000 up to the year 2099 (UTC)"),
    ))
}

/// A count or duration stored as a SQLite integer (i64) and at most `max`, named.
fn check_number(id: Uuid, field: &str, value: u64, max: u64) -> Result<(), Refusal> {
    if value <= max.min(i64::MAX as u64) {
        return Ok(());
    }
    Err(invalid(
        id,
        format!(
            "{field} is {value}; it must be at most {}",
            max.min(i64::MAX as u64)
        ),
    ))
}

fn check_batch(len: usize) -> Result<(), ServiceError> {
    if len > MAX_BATCH {
        return Err(ServiceError::TooLarge(format!(
            "{len} items in one batch; send at most {MAX_BATCH} at a time"
        )));
    }
    Ok(())
}

fn invalid(id: Uuid, reason: String) -> Refusal {
    Refusal::Rejected(Rejected {
        id,
        code: "invalid_request".into(),
        reason,
    })
}

impl Service {
    /// Stores the valid items of a batch; the outcome lists every item once, in order of kind.
    fn ingest<T>(
        &self,
        items: &[T],
        id_of: impl Fn(&T) -> Uuid,
        check: impl Fn(&T) -> Result<(), Refusal>,
        store: impl FnOnce(&[T]) -> Result<Vec<Stored>, ServiceError>,
    ) -> Result<IngestOutcome, ServiceError>
    where
        T: Clone,
    {
        check_batch(items.len())?;
        let mut outcome = IngestOutcome::default();
        let mut valid = Vec::new();
        for item in items {
            match check(item) {
                Ok(()) => valid.push(item.clone()),
                Err(Refusal::Rejected(rejection)) => outcome.rejected.push(rejection),
                Err(Refusal::Failed(error)) => return Err(error),
            }
        }
        for (item, stored) in valid.iter().zip(store(&valid)?) {
            let id = id_of(item);
            match stored {
                Stored::New => outcome.accepted.push(id),
                Stored::Duplicate => outcome.duplicates.push(id),
                Stored::IdTaken => outcome.rejected.push(Rejected {
                    id,
                    code: "id_taken".into(),
                    reason: format!("the id {id} is already used by another record"),
                }),
            }
        }
        Ok(outcome)
    }

    /// `POST /v1/telemetry` (F9, N5).
    pub fn ingest_telemetry(
        &self,
        caller: &Caller,
        events: &[TelemetryEvent],
    ) -> Result<IngestOutcome, ServiceError> {
        let check = |event: &TelemetryEvent| {
            if event.kind.is_empty() || event.kind.chars().count() > MAX_KIND_CHARS {
                return Err(invalid(
                    event.id,
                    format!("the event kind must be 1–{MAX_KIND_CHARS} characters"),
                ));
            }
            if event
                .step_id
                .as_ref()
                .is_some_and(|s| s.chars().count() > MAX_STEP_ID_CHARS)
            {
                return Err(invalid(event.id, "the step id is too long".into()));
            }
            check_time(event.id, "at", event.at)?;
            if let Some(duration) = event.duration_ms {
                check_number(event.id, "duration_ms", duration, MAX_EVENT_DURATION_MS)?;
            }
            if let Some(guide) = event.guide_id {
                self.guide_for(caller, guide)
                    .map_err(|e| rejected_or_failed(event.id, e))?;
            }
            Ok(())
        };
        let now = self.clock.now();
        self.ingest(
            events,
            |e| e.id,
            check,
            |valid| {
                Ok(self
                    .store
                    .store_telemetry(caller.user.id, &caller.device_id, valid, now)?)
            },
        )
    }

    /// The `summaries` of `POST /v1/telemetry` (F9): app sessions a device folded into counts.
    /// Checked for consistency (counts add up, time range in order), stored once by id (N5).
    pub fn ingest_summaries(
        &self,
        caller: &Caller,
        summaries: &[TelemetrySummary],
    ) -> Result<IngestOutcome, ServiceError> {
        let check = |summary: &TelemetrySummary| {
            let bad = |reason: &str| Err(invalid(summary.id, reason.to_owned()));
            if summary.sessions == 0 {
                return bad("a summary counts at least one app session");
            }
            if summary.by_kind.len() > MAX_SUMMARY_KINDS {
                return bad("a summary names at most 64 event kinds");
            }
            if summary
                .by_kind
                .keys()
                .any(|kind| kind.is_empty() || kind.chars().count() > MAX_KIND_CHARS)
            {
                return bad("each event kind must be 1–64 characters");
            }
            let total = summary
                .by_kind
                .values()
                .try_fold(0u64, |sum, n| sum.checked_add(*n));
            if total != Some(summary.events) {
                return bad("the counts per kind do not add up to the number of events");
            }
            if summary.first_at > summary.last_at {
                return bad("the summary's time range ends before it starts");
            }
            check_time(summary.id, "first_at", summary.first_at)?;
            check_time(summary.id, "last_at", summary.last_at)?;
            check_number(summary.id, "sessions", summary.sessions, u64::MAX)?;
            check_number(summary.id, "events", summary.events, u64::MAX)?;
            check_number(summary.id, "duration_ms", summary.duration_ms, u64::MAX)?;
            Ok(())
        };
        let now = self.clock.now();
        self.ingest(
            summaries,
            |s| s.id,
            check,
            |valid| {
                Ok(self
                    .store
                    .store_summaries(caller.user.id, &caller.device_id, valid, now)?)
            },
        )
    }

    /// `POST /v1/results`: step completions made offline, accepted only if the user may still
    /// open the guide and the step exists in the version they followed (S6).
    pub fn ingest_results(
        &self,
        caller: &Caller,
        results: &[StepResult],
    ) -> Result<IngestOutcome, ServiceError> {
        let check = |result: &StepResult| {
            if result.step_id.is_empty() || result.step_id.chars().count() > MAX_STEP_ID_CHARS {
                return Err(invalid(
                    result.id,
                    "the step id must be 1–128 characters".into(),
                ));
            }
            check_time(result.id, "completed_at", result.completed_at)?;
            if result
                .value
                .as_ref()
                .is_some_and(|v| v.to_string().len() > MAX_VALUE_BYTES)
            {
                return Err(invalid(
                    result.id,
                    format!("the recorded value is larger than {MAX_VALUE_BYTES} bytes"),
                ));
            }
            self.guide_for(caller, result.guide_id)
                .map_err(|e| rejected_or_failed(result.id, e))?;
            let lookup = self
                .store
                .step_lookup(result.guide_id, result.version, &result.step_id)
                .map_err(|e| rejected_or_failed(result.id, e.into()))?;
            match lookup {
                StepLookup::Found { capture: None } => Ok(()),
                // N6: a recorded answer must be one the step asks for.
                StepLookup::Found {
                    capture: Some(capture),
                } => {
                    let capture: Capture = serde_json::from_str(&capture).map_err(|e| {
                        Refusal::Failed(ServiceError::Internal(format!(
                            "the stored capture of step '{}' cannot be read: {e}",
                            result.step_id
                        )))
                    })?;
                    capture
                        .check_recorded(result.value.as_ref())
                        .map_err(|reason| {
                            Refusal::Rejected(Rejected {
                                id: result.id,
                                code: "invalid_answer".into(),
                                reason: format!("step '{}': {reason}", result.step_id),
                            })
                        })?;
                    match self
                        .unsent_photo(caller, result.value.as_ref())
                        .map_err(|e| rejected_or_failed(result.id, e))?
                    {
                        None => Ok(()),
                        Some(reason) => Err(Refusal::Rejected(Rejected {
                            id: result.id,
                            code: "photo_missing".into(),
                            reason: format!("step '{}': {reason}", result.step_id),
                        })),
                    }
                }
                StepLookup::NoSuchVersion => Err(Refusal::Rejected(Rejected {
                    id: result.id,
                    code: "not_found".into(),
                    reason: format!(
                        "the guide {} has no version {}",
                        result.guide_id, result.version
                    ),
                })),
                StepLookup::NoSuchStep => Err(Refusal::Rejected(Rejected {
                    id: result.id,
                    code: "not_found".into(),
                    reason: format!(
                        "version {} of the guide has no step '{}'",
                        result.version, result.step_id
                    ),
                })),
            }
        };
        let now = self.clock.now();
        self.ingest(
            results,
            |r| r.id,
            check,
            |valid| {
                Ok(self
                    .store
                    .store_results(caller.user.id, &caller.device_id, valid, now)?)
            },
        )
    }

    pub fn results_of(&self, caller: &Caller) -> Result<Vec<StepResult>, ServiceError> {
        Ok(self.store.results_of(caller.user.id)?)
    }
}
