//! The driver's answers (N6): a step's answer button pressed (selected, looked at, or its
//! number in a script) is given to the app, reported, and handed to the device to record.

use super::Driver;
use crate::app::report::Cause;

impl Driver {
    pub(super) fn answer(&mut self, index: usize, cause: Cause) {
        let Some(answered) = self.app.answer(index) else {
            tracing::info!(index, %cause, "no such answer on this screen: ignored");
            return;
        };
        tracing::info!(step = %answered.step_id, answer = answered.answer.label(), %cause, "answered");
        self.report.answers.push(format!(
            "{}: {} ({cause})",
            answered.step_id,
            answered.answer.label()
        ));
        self.surroundings.record_answer(&answered);
        self.menu.dismiss_status();
    }
}
