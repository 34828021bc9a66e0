//! Telemetry (F9): recorded into the cache's outbox as it happens, kept for a bounded number of
//! app sessions (older ones summarised by the cache, not dropped), uploaded when online. Every
//! event carries an id made here, so an upload that is resent is stored once by the service.

use serde::Serialize;
use uuid::Uuid;

use super::{ClientError, Device};
use crate::app::access::{Link, Refused};
use crate::app::telemetry::TelemetryKind;
use crate::cache::{OutboxItem, TelemetryEvent, TelemetrySummary};
use crate::net::{NetError, wire};

/// Upload batches stay well under the service's JSON body limit.
const BATCH: usize = 500;
/// Step results (and answers) sent per request at most.
pub const RESULTS_PER_REQUEST: usize = BATCH;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    pub accepted: usize,
    pub duplicates: usize,
    /// Refused by the service, with its reason; they leave the outbox (nothing to retry).
    pub rejected: Vec<String>,
    pub left: usize,
}

impl Device {
    /// F9's policy, in one place: telemetry is kept for a signed-in account only (without one
    /// there is nobody to report for; the demo opened without an account stays standalone,
    /// F8).
    pub fn keeps_telemetry(&self) -> bool {
        self.store().is_some()
    }

    /// Records one event if telemetry is kept ([`Self::keeps_telemetry`]); one that cannot be
    /// kept never keeps the operator from the guide: it is logged.
    pub fn keep_event(
        &mut self,
        kind: TelemetryKind,
        guide_id: Option<Uuid>,
        step_id: Option<&str>,
        duration_ms: Option<u64>,
    ) {
        if self.keeps_telemetry()
            && let Err(e) = self.record(kind, guide_id, step_id, duration_ms)
        {
            tracing::warn!("telemetry not recorded: {e}");
        }
    }

    /// [`Self::record_transition`] under the same policy as [`Self::keep_event`].
    pub fn keep_transition(
        &mut self,
        guide: &crate::guide::Guide,
        transition: &crate::app::Transition,
        on_screen_ms: u64,
    ) {
        if self.keeps_telemetry()
            && let Err(e) = self.record_transition(guide, transition, on_screen_ms)
        {
            tracing::warn!("telemetry not recorded: {e}");
        }
    }

    /// Uploads the outbox if telemetry is kept and the service answers; what is not sent stays
    /// for later, and the outcome is logged.
    pub fn send_telemetry(&mut self) {
        if !self.keeps_telemetry() || self.link() != Link::Online {
            return;
        }
        match self.upload_telemetry() {
            Ok(uploaded) => tracing::info!(?uploaded, "telemetry"),
            Err(e) => tracing::warn!("telemetry stays on the device: {e}"),
        }
    }

    /// Records one event of this app session: `session_start`, `step_viewed`, `step_time`,
    /// `guide_completed`, …
    pub fn record(
        &mut self,
        kind: TelemetryKind,
        guide_id: Option<Uuid>,
        step_id: Option<&str>,
        duration_ms: Option<u64>,
    ) -> Result<(), ClientError> {
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        store.record_event(
            self.app_session,
            &TelemetryEvent {
                id: Uuid::new_v4(),
                kind: kind.as_str().to_owned(),
                at: self.config.clock.now(),
                guide_id,
                step_id: step_id.map(str::to_owned),
                duration_ms,
            },
        )?;
        Ok(())
    }

    /// Records what a screen change of the open guide means (F9): time on the step left, the
    /// step shown, completion.
    pub fn record_transition(
        &mut self,
        guide: &crate::guide::Guide,
        transition: &crate::app::Transition,
        on_screen_ms: u64,
    ) -> Result<(), ClientError> {
        for event in crate::app::telemetry::observe(guide, transition, on_screen_ms) {
            self.record(
                event.kind,
                Some(guide.id),
                event.step_id.as_deref(),
                event.duration_ms,
            )?;
        }
        Ok(())
    }

    /// Uploads the outbox when online; offline it stays for later. Items the service took, had
    /// already, or refused leave the outbox.
    pub fn upload_telemetry(&mut self) -> Result<Uploaded, ClientError> {
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        let mut uploaded = Uploaded::default();
        let Some(server) = self.server.clone().filter(|_| self.link() == Link::Online) else {
            uploaded.left = store.pending_telemetry(usize::MAX)?.len();
            return Ok(uploaded);
        };
        loop {
            let items = store.pending_telemetry(BATCH)?;
            if items.is_empty() {
                break;
            }
            let mut events = Vec::new();
            let mut summaries = Vec::new();
            for item in &items {
                match item {
                    OutboxItem::Event(event) => events.push(wire_event(event)),
                    OutboxItem::Summary(summary) => summaries.push(wire_summary(summary)),
                }
            }
            let outcome =
                self.authorised(&server, |t| server.upload_telemetry(t, &events, &summaries))?;
            let mut done: Vec<Uuid> = outcome.accepted.clone();
            done.extend(&outcome.duplicates);
            done.extend(outcome.rejected.iter().map(|r| r.id));
            uploaded.accepted += outcome.accepted.len();
            uploaded.duplicates += outcome.duplicates.len();
            uploaded.rejected.extend(
                outcome
                    .rejected
                    .iter()
                    .map(|r| format!("{}: {}", r.id, r.reason)),
            );
            if store.ack_telemetry(&done)? == 0 {
                // The service answered about none of what we sent: stop rather than loop.
                break;
            }
        }
        uploaded.left = store.pending_telemetry(usize::MAX)?.len();
        Ok(uploaded)
    }
}

/// How an upload of step results fared (N5, S6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResultsUploaded {
    pub accepted: usize,
    pub duplicates: usize,
    /// Refused by the service, as the user reads it ("Step results for Pump filter were not
    /// accepted: you no longer have access to this guide"), one line per guide and reason:
    /// kept in the cache's rejected list, never dropped, never sent again.
    pub rejected: Vec<String>,
    /// Requests the upload took (batches of [`RESULTS_PER_REQUEST`], one per photo).
    pub requests: usize,
    /// N6: photos sent, before the records that name them.
    pub photos: usize,
}

impl Device {
    /// Uploads the step results made on this device (offline ones included) when online.
    /// Accepted and already-stored ones leave the cache; refused ones stay, marked with the
    /// service's reason (S6). Offline, nothing changes.
    pub fn upload_results(&mut self) -> Result<ResultsUploaded, ClientError> {
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        let mut uploaded = ResultsUploaded::default();
        let Some(server) = self.server.clone().filter(|_| self.link() == Link::Online) else {
            return Ok(uploaded);
        };
        // N6: the photos first, so that the records naming them find them on the service.
        for sha256 in store.unsent_photos()? {
            let Some(jpeg) = store.photo(&sha256)? else {
                continue;
            };
            // A photo the service will never take (damaged in the cache) must not hold back
            // every record behind it: its own record comes back refused, with the reason.
            let refused = self.authorised(&server, |t| {
                match server.upload_photo(t, &sha256, jpeg.clone()) {
                    Err(NetError::Refused {
                        status: 400 | 413,
                        message,
                        ..
                    }) => Ok(Some(message)),
                    other => other.map(|()| None),
                }
            })?;
            uploaded.requests += 1;
            match refused {
                None => {
                    uploaded.photos += 1;
                    store.ack_photo(&sha256)?;
                }
                Some(why) => tracing::warn!("the service refused photo {sha256}: {why}"),
            }
        }
        let pending: Vec<_> = store
            .pending_results()?
            .into_iter()
            .filter(|r| r.rejected.is_none())
            .collect();
        // Refusals name the guide by its title, as the user knows it.
        let titles = if pending.is_empty() {
            Default::default()
        } else {
            store.titles()?
        };
        for batch in pending.chunks(BATCH) {
            let results: Vec<wire::StepResult> = batch
                .iter()
                .map(|r| wire::StepResult {
                    id: r.id,
                    guide_id: r.guide_id,
                    version: r.version,
                    step_id: r.step_id.clone(),
                    completed_at: r.completed_at,
                    value: r.value.clone(),
                })
                .collect();
            let outcome = self.authorised(&server, |t| server.upload_results(t, &results))?;
            uploaded.requests += 1;
            let mut done: Vec<Uuid> = outcome.accepted.clone();
            done.extend(&outcome.duplicates);
            store.ack_results(&done)?;
            for rejected in &outcome.rejected {
                store.reject_result(rejected.id, &rejected.code, &rejected.reason)?;
                let guide = batch
                    .iter()
                    .find(|r| r.id == rejected.id)
                    .map(|r| r.guide_id);
                let title = match guide {
                    Some(id) => titles.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                    None => "a guide".to_owned(),
                };
                let line = format!(
                    "Step results for {title} were not accepted: {}",
                    rejected.reason
                );
                if !uploaded.rejected.contains(&line) {
                    uploaded.rejected.push(line);
                }
            }
            uploaded.accepted += outcome.accepted.len();
            uploaded.duplicates += outcome.duplicates.len();
        }
        Ok(uploaded)
    }
}

impl Device {
    /// N6: the runs whose answers this device keeps (sent ones too), each with its guide's
    /// title when the guide is still cached. Offline too: nothing is asked of the service.
    pub fn runs(&self) -> Result<Vec<(crate::app::runs::RunReport, Option<String>)>, ClientError> {
        use crate::app::runs::{Record, RecordStatus, rebuild};
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        let titles = store.titles()?;
        let records: Vec<Record> = store
            .results()?
            .into_iter()
            .filter_map(|(result, sent)| {
                Some(Record {
                    id: result.id,
                    guide_id: result.guide_id,
                    step_id: result.step_id,
                    at: result.completed_at,
                    value: result.value?,
                    status: match (result.rejected, sent) {
                        (Some(rejection), _) => RecordStatus::Rejected(rejection.reason),
                        (None, true) => RecordStatus::Sent,
                        (None, false) => RecordStatus::Waiting,
                    },
                })
            })
            .collect();
        Ok(rebuild(&records)
            .into_iter()
            .map(|run| {
                let title = titles.get(&run.guide_id).cloned();
                (run, title)
            })
            .collect())
    }
}

/// An outbox event as `POST /v1/telemetry` sends it.
fn wire_event(event: &TelemetryEvent) -> wire::TelemetryEvent {
    wire::TelemetryEvent {
        id: event.id,
        kind: event.kind.clone(),
        at: event.at,
        guide_id: event.guide_id,
        step_id: event.step_id.clone(),
        duration_ms: event.duration_ms,
    }
}

/// An outbox summary as `POST /v1/telemetry` sends it.
fn wire_summary(summary: &TelemetrySummary) -> wire::TelemetrySummary {
    wire::TelemetrySummary {
        id: summary.id,
        sessions: summary.sessions,
        events: summary.events,
        first_at: summary.first_at,
        last_at: summary.last_at,
        by_kind: summary.by_kind.clone(),
        duration_ms: summary.duration_ms,
    }
}
