//! What the operator did, as telemetry (F9): which steps were viewed, for how long, and whether
//! the guide was completed. Pure: screen changes and times in, events out; the device stores
//! them in its outbox and uploads them when online.

use super::{Screen, Transition};
use crate::guide::Guide;

/// What the device records (F9); stored and uploaded as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetryKind {
    SessionStart,
    SessionEnd,
    GuideOpened,
    StepViewed,
    /// Time spent on a step, when it is left.
    StepTime,
    GuideCompleted,
}

impl TelemetryKind {
    /// The name in the outbox and on the wire: `step_viewed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionStart => "session_start",
            Self::SessionEnd => "session_end",
            Self::GuideOpened => "guide_opened",
            Self::StepViewed => "step_viewed",
            Self::StepTime => "step_time",
            Self::GuideCompleted => "guide_completed",
        }
    }
}

/// One event to record; the device adds the id, the time and the guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub kind: TelemetryKind,
    pub step_id: Option<String>,
    pub duration_ms: Option<u64>,
}

fn step_id(guide: &Guide, screen: &Screen) -> Option<String> {
    match screen {
        Screen::Step { index } => guide.step(*index).map(|p| p.step.id.clone()),
        Screen::Complete => None,
    }
}

/// The events of a screen change: time spent on the step left, the step now shown, completion.
/// `on_screen_ms` is how long the previous screen was shown.
pub fn observe(guide: &Guide, transition: &Transition, on_screen_ms: u64) -> Vec<Observed> {
    let Transition::Moved { from, to } = transition else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if let Some(left) = step_id(guide, from) {
        events.push(Observed {
            kind: TelemetryKind::StepTime,
            step_id: Some(left),
            duration_ms: Some(on_screen_ms),
        });
    }
    match to {
        Screen::Step { .. } => events.push(Observed {
            kind: TelemetryKind::StepViewed,
            step_id: step_id(guide, to),
            duration_ms: None,
        }),
        Screen::Complete => events.push(Observed {
            kind: TelemetryKind::GuideCompleted,
            step_id: None,
            duration_ms: None,
        }),
    }
    events
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::{App, GuideSource, Intent};

    #[test]
    fn f9_steps_viewed_time_per_step_and_completion_are_observed() {
        let guide = Arc::new(crate::demo::load().expect("the demo guide").guide);
        let mut app = App::open(guide.clone(), GuideSource::Demo, None);
        let next = app.handle(Intent::Next);
        let events = observe(&guide, &next, 4200);
        assert_eq!(
            events,
            vec![
                Observed {
                    kind: TelemetryKind::StepTime,
                    step_id: Some("lock-out".into()),
                    duration_ms: Some(4200)
                },
                Observed {
                    kind: TelemetryKind::StepViewed,
                    step_id: Some("close-valve".into()),
                    duration_ms: None
                },
            ]
        );
        let mut last = Transition::Ignored;
        for _ in 1..guide.step_count() {
            last = app.handle(Intent::Next);
        }
        let done = observe(&guide, &last, 1000);
        assert_eq!(
            done.last().map(|e| e.kind),
            Some(TelemetryKind::GuideCompleted)
        );
        assert!(observe(&guide, &app.handle(Intent::Next), 10).is_empty());
    }
}
