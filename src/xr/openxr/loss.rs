//! What happens when a session is lost (`XR_SESSION_STATE_LOSS_PENDING`): the runtime may come
//! back (a headset reconnected, a runtime restarting), so the app waits a bounded time for the
//! system and creates a new session, a bounded number of times; an instance that is lost
//! (`XrEventDataInstanceLossPending`, `XR_ERROR_INSTANCE_LOST`) cannot be recovered and ends
//! the run with [`XrError::RuntimeLost`]. Kept apart from the frame loop so each path is
//! tested without a runtime that loses sessions (Monado here only ever loses the instance).

use std::time::Duration;

use super::XrError;

/// Sessions created before a further loss ends the run.
pub(super) const MAX_SESSIONS: u32 = 3;
/// How often, and how many times, the system is asked for after a loss: 10 s in all.
pub(super) const SYSTEM_POLL: Duration = Duration::from_millis(250);
pub(super) const SYSTEM_TRIES: u32 = 40;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// EXITING, or stopped before it ran: the run is over.
    Exited,
    /// LOSS_PENDING: the session must be destroyed; another may be created.
    Lost,
}

/// What the run does after a session ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Finish,
    /// Wait for the system, then create session number `sessions + 1`.
    Recreate,
    GiveUp(String),
}

/// `sessions`: how many sessions were created so far (this one included).
pub(super) fn after_session(ended: Ended, sessions: u32) -> Next {
    match ended {
        Ended::Exited => Next::Finish,
        Ended::Lost if sessions < MAX_SESSIONS => Next::Recreate,
        Ended::Lost => Next::GiveUp(format!("lost {sessions} times")),
    }
}

/// Asks `system` up to `tries` times, `pause` apart, until the runtime has a system again;
/// `beat` keeps the watchdog from taking the wait for a hang.
pub(super) fn wait_for_system(
    mut system: impl FnMut() -> Result<(), String>,
    tries: u32,
    pause: Duration,
    mut beat: impl FnMut(),
) -> Result<(), XrError> {
    let mut last = String::from("not asked");
    for attempt in 0..tries {
        beat();
        match system() {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if attempt + 1 < tries {
            std::thread::sleep(pause);
        }
    }
    Err(XrError::SessionLost(format!(
        "the system did not come back within {:.0} s ({last})",
        (pause * tries).as_secs_f64()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_that_exits_ends_the_run() {
        assert_eq!(after_session(Ended::Exited, 1), Next::Finish);
        assert_eq!(after_session(Ended::Exited, MAX_SESSIONS), Next::Finish);
    }

    #[test]
    fn a_lost_session_is_created_again_until_the_limit_then_the_run_gives_up_with_the_count() {
        assert_eq!(after_session(Ended::Lost, 1), Next::Recreate);
        assert_eq!(after_session(Ended::Lost, MAX_SESSIONS - 1), Next::Recreate);
        let Next::GiveUp(reason) = after_session(Ended::Lost, MAX_SESSIONS) else {
            panic!("a third loss must give up");
        };
        let message = XrError::SessionLost(reason).to_string();
        assert_eq!(
            message,
            "the OpenXR session was lost and could not be created again: lost 3 times"
        );
    }

    #[test]
    fn after_a_loss_the_session_is_created_again_once_the_system_answers() {
        let mut asked = 0;
        let mut beats = 0;
        let result = wait_for_system(
            || {
                asked += 1;
                if asked < 3 {
                    Err("XR_ERROR_FORM_FACTOR_UNAVAILABLE".into())
                } else {
                    Ok(())
                }
            },
            SYSTEM_TRIES,
            Duration::ZERO,
            || beats += 1,
        );
        assert!(result.is_ok());
        assert_eq!(asked, 3);
        assert_eq!(beats, 3, "the watchdog hears from every attempt");
    }

    #[test]
    fn a_system_that_never_comes_back_ends_the_wait_with_the_runtimes_last_answer() {
        let mut asked = 0;
        let error = wait_for_system(
            || {
                asked += 1;
                Err("XR_ERROR_FORM_FACTOR_UNAVAILABLE".into())
            },
            SYSTEM_TRIES,
            Duration::ZERO,
            || {},
        )
        .unwrap_err();
        assert_eq!(
            asked, SYSTEM_TRIES,
            "bounded: asked exactly {SYSTEM_TRIES} times"
        );
        assert!(matches!(error, XrError::SessionLost(_)));
        assert_eq!(
            error.to_string(),
            "the OpenXR session was lost and could not be created again: \
             the system did not come back within 0 s (XR_ERROR_FORM_FACTOR_UNAVAILABLE)"
        );
        assert!(
            (SYSTEM_POLL * SYSTEM_TRIES).as_secs() == 10,
            "the real wait is 10 s"
        );
    }

    #[test]
    fn a_lost_instance_is_told_as_the_runtime_going_away_not_as_a_refused_call() {
        let error = XrError::call(
            "xrPollEvent (instance loss pending)",
            openxr::sys::Result::ERROR_INSTANCE_LOST,
        );
        assert!(matches!(error, XrError::RuntimeLost { .. }));
        let message = error.to_string();
        assert!(
            message.starts_with(
                "the OpenXR runtime stopped answering (xrPollEvent (instance loss pending): \
                 the XrInstance was lost"
            ),
            "{message}"
        );
        assert!(
            message.ends_with("is the runtime's service (monado-service) still running?"),
            "{message}"
        );
    }
}
