//! The driver's answers (N6): a step's answer button pressed (selected, looked at, or its
//! number in a script) is given to the app, reported, and handed to the device to record.

use super::Driver;
use crate::app::report::Cause;
use crate::app::{Answered, KeyPress};

impl Driver {
    pub(super) fn answer(&mut self, index: usize, cause: Cause) {
        let Some(answered) = self.app.answer(index) else {
            tracing::info!(index, %cause, "no answer given on this screen");
            return;
        };
        self.answered(answered, cause);
    }

    /// A key of the keypad beside the card; OK may give an answer.
    pub(super) fn key(&mut self, key: KeyPress, cause: Cause) {
        if let Some(answered) = self.app.key(key) {
            self.answered(answered, cause);
        }
    }

    /// A script's `enter TEXT`: what is typed so far is replaced by `typed`, then OK.
    pub(super) fn enter(&mut self, typed: &str, cause: Cause) {
        self.app.clear_typed();
        for c in typed.chars() {
            self.app.key(KeyPress::Char(c));
        }
        self.key(KeyPress::Done, cause);
    }

    fn answered(&mut self, answered: Answered, cause: Cause) {
        let label = answered.answer.label();
        tracing::info!(step = %answered.step_id, answer = %label, %cause, "answered");
        self.report
            .answers
            .push(format!("{}: {} ({cause})", answered.step_id, label));
        self.surroundings.record_answer(&answered);
        self.menu.dismiss_status();
    }
}
