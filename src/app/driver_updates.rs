//! The driver's update prompt (S7): an offer from the background sync is shown until the
//! operator answers it — a button selected or looked at, or its number as in the All list —
//! and the answer goes to the device. A newer offer replaces one not answered yet.

use super::Driver;
use crate::app::report::{Cause, Observation};
use crate::app::updates::{UpdateAnswer, UpdateOffer};

impl Driver {
    /// The updates offered now, while the operator has not answered.
    pub fn update_offer(&self) -> Option<&UpdateOffer> {
        self.update_offer.as_ref()
    }

    pub(super) fn offer_updates(&mut self, offer: UpdateOffer) {
        let question = offer.question();
        tracing::info!(guides = ?offer.guides, "update prompt: {question}");
        self.report.update_prompts.push(question.clone());
        self.observations.push(Observation::Status {
            frame: self.frame + 1,
            text: question,
        });
        self.update_offer = Some(offer);
    }

    pub(super) fn answer_updates_numbered(&mut self, number: usize, cause: Cause) {
        match UpdateAnswer::numbered(number) {
            Some(answer) => self.answer_updates(answer, cause),
            None => tracing::info!("{number} chosen while the update prompt shows: ignored"),
        }
    }

    /// The operator's answer: it goes to the device, the prompt goes, the status line says
    /// what happens now.
    pub(super) fn answer_updates(&mut self, answer: UpdateAnswer, cause: Cause) {
        let Some(offer) = self.update_offer.take() else {
            return;
        };
        tracing::info!(?answer, %cause, "update prompt answered");
        self.surroundings.answer_updates(answer);
        self.report
            .update_answers
            .push(format!("{} ({cause})", answer.label()));
        let text = answer.status(&offer);
        let change = self.menu.say(text);
        self.menu_changed(Some(change));
    }
}
