//! The OpenXR session lifecycle as an explicit state machine (hotham's habit): every state the
//! runtime reports is matched as a (previous, next) pair, logged, and answered with what the
//! frame loop must do. Nothing happens "because a flag was set somewhere".
//!
//! IDLE → READY (begin the session) → SYNCHRONIZED → VISIBLE → FOCUSED … → STOPPING (end the
//! session) → IDLE → EXITING (leave). LOSS_PENDING: the runtime is going away; destroy the
//! session and try to make a new one when the system comes back.

use openxr::SessionState;

/// What the frame loop does after a state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep going (frames are waited and submitted only while the session is running).
    Continue,
    /// xrBeginSession, then start the frame loop.
    Begin,
    /// Stop rendering and xrEndSession.
    End,
    /// The session is over: destroy it and leave.
    Exit,
    /// The session is being lost: destroy it and try to create a new one.
    Recreate,
}

/// Upper-case names as the OpenXR specification writes them (and as the logs print them).
pub fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::IDLE => "IDLE",
        SessionState::READY => "READY",
        SessionState::SYNCHRONIZED => "SYNCHRONIZED",
        SessionState::VISIBLE => "VISIBLE",
        SessionState::FOCUSED => "FOCUSED",
        SessionState::STOPPING => "STOPPING",
        SessionState::LOSS_PENDING => "LOSS_PENDING",
        SessionState::EXITING => "EXITING",
        _ => "UNKNOWN",
    }
}

#[derive(Debug, Clone)]
pub struct SessionMachine {
    state: SessionState,
    running: bool,
    /// This session was begun (READY seen) at some point.
    began: bool,
    /// Every state entered, in order, starting from the implicit IDLE.
    history: Vec<&'static str>,
}

impl Default for SessionMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionMachine {
    pub fn new() -> Self {
        Self {
            state: SessionState::UNKNOWN,
            running: false,
            began: false,
            history: Vec::new(),
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Between xrBeginSession and xrEndSession: frames must be waited, begun and ended.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The visible states: what is rendered can be seen.
    pub fn is_visible(&self) -> bool {
        matches!(self.state, SessionState::VISIBLE | SessionState::FOCUSED)
    }

    /// Input actions only reach a focused session.
    pub fn is_focused(&self) -> bool {
        self.state == SessionState::FOCUSED
    }

    /// Whether the current session was ever begun (READY seen).
    pub fn ever_ran(&self) -> bool {
        self.began
    }

    /// A new session after LOSS_PENDING: back to the start, the history kept for the report.
    pub fn restart(&mut self) {
        tracing::info!("new session");
        self.state = SessionState::UNKNOWN;
        self.running = false;
        self.began = false;
    }

    pub fn history(&self) -> &[&'static str] {
        &self.history
    }

    /// The runtime reported `next`; returns what to do about it.
    pub fn advance(&mut self, next: SessionState) -> Step {
        let previous = self.state;
        self.state = next;
        self.history.push(state_name(next));
        tracing::info!(
            "session state {} → {}",
            state_name(previous),
            state_name(next)
        );
        use SessionState as S;
        let step = match (previous, next) {
            (_, S::READY) if !self.running => Step::Begin,
            (_, S::STOPPING) if self.running => Step::End,
            (_, S::EXITING) => Step::Exit,
            (_, S::LOSS_PENDING) => Step::Recreate,
            (S::READY | S::SYNCHRONIZED | S::VISIBLE | S::FOCUSED, _) => Step::Continue,
            _ => Step::Continue,
        };
        match step {
            Step::Begin => {
                self.running = true;
                self.began = true;
            }
            Step::End | Step::Exit | Step::Recreate => self.running = false,
            Step::Continue => {}
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_begins_on_ready_ends_on_stopping_and_leaves_on_exiting() {
        let mut machine = SessionMachine::new();
        use SessionState as S;
        let steps: Vec<Step> = [
            S::IDLE,
            S::READY,
            S::SYNCHRONIZED,
            S::VISIBLE,
            S::FOCUSED,
            S::VISIBLE,
            S::SYNCHRONIZED,
            S::STOPPING,
            S::IDLE,
            S::EXITING,
        ]
        .into_iter()
        .map(|s| machine.advance(s))
        .collect();
        assert_eq!(
            steps,
            vec![
                Step::Continue,
                Step::Begin,
                Step::Continue,
                Step::Continue,
                Step::Continue,
                Step::Continue,
                Step::Continue,
                Step::End,
                Step::Continue,
                Step::Exit
            ]
        );
        assert_eq!(
            machine.history(),
            [
                "IDLE",
                "READY",
                "SYNCHRONIZED",
                "VISIBLE",
                "FOCUSED",
                "VISIBLE",
                "SYNCHRONIZED",
                "STOPPING",
                "IDLE",
                "EXITING"
            ]
        );
        assert!(!machine.is_running());
    }

    #[test]
    fn the_session_runs_only_between_begin_and_end() {
        let mut machine = SessionMachine::new();
        machine.advance(SessionState::IDLE);
        assert!(!machine.is_running());
        machine.advance(SessionState::READY);
        assert!(machine.is_running());
        machine.advance(SessionState::FOCUSED);
        assert!(machine.is_running() && machine.is_visible() && machine.is_focused());
        machine.advance(SessionState::STOPPING);
        assert!(!machine.is_running() && !machine.is_visible());
    }

    #[test]
    fn loss_pending_asks_for_a_new_session_and_stops_rendering() {
        let mut machine = SessionMachine::new();
        machine.advance(SessionState::READY);
        machine.advance(SessionState::FOCUSED);
        assert_eq!(machine.advance(SessionState::LOSS_PENDING), Step::Recreate);
        assert!(!machine.is_running());
    }

    #[test]
    fn a_repeated_ready_does_not_begin_a_running_session_twice() {
        let mut machine = SessionMachine::new();
        assert_eq!(machine.advance(SessionState::READY), Step::Begin);
        assert_eq!(machine.advance(SessionState::READY), Step::Continue);
    }

    #[test]
    fn a_new_session_after_a_loss_starts_over_and_keeps_the_history() {
        let mut machine = SessionMachine::new();
        machine.advance(SessionState::READY);
        machine.advance(SessionState::LOSS_PENDING);
        machine.restart();
        assert!(!machine.ever_ran() && !machine.is_running());
        assert_eq!(machine.advance(SessionState::READY), Step::Begin);
        assert_eq!(machine.history(), ["READY", "LOSS_PENDING", "READY"]);
    }
}
