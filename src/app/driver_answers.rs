//! The driver's answers (N6): a step's answer button pressed (selected, looked at, or its
//! number in a script) is given to the app, reported, and handed to the device to record.

use super::Driver;
use crate::app::answers::Keys;
use crate::app::report::{Cause, Observation};
use crate::app::{Answered, KeyPress};
use crate::camera::decoding::QrWorker;
use crate::camera::photo::{Photo, PhotoError};

/// What a "Take photo" says where no camera runs.
pub const NO_CAMERA: &str =
    "No camera here: photos come from the headset's camera (`--camera` on a desktop).";

/// A photo asked for at a step, until the camera delivers it.
#[derive(Debug, Default)]
pub(super) enum PhotoRequest {
    #[default]
    None,
    /// Pressed; the camera is asked at the next collection.
    Wanted { step: usize, cause: Cause },
    /// The camera encodes its next frame.
    Taking { step: usize, cause: Cause },
}

impl Driver {
    pub(super) fn answer(&mut self, index: usize, cause: Cause) {
        if let (Some(step), 0) = (self.app.asks_photo(), index) {
            self.want_photo(step, cause);
            return;
        }
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

    /// "Take photo": the camera's next frame becomes the step's photo; without a camera the
    /// card says why there is none.
    fn want_photo(&mut self, step: usize, cause: Cause) {
        if !self.camera {
            self.app.say(NO_CAMERA);
            return;
        }
        tracing::info!(%cause, "photo asked for");
        self.photo = PhotoRequest::Wanted { step, cause };
        self.app.say("Taking a photo: hold still.");
    }

    /// N6: asks the camera for the photo wanted, and takes the photo it made as the answer of
    /// the step it was asked at. Never waits.
    pub(super) fn collect_photo(&mut self, camera: &QrWorker) {
        if let PhotoRequest::Wanted { step, cause } = std::mem::take(&mut self.photo) {
            camera.take_photo();
            self.photo = PhotoRequest::Taking { step, cause };
        }
        while let Some(taken) = camera.try_photo() {
            self.photo_taken(taken);
        }
    }

    /// N6: a photo is asked for and the camera was not asked yet: a shell that reads camera
    /// frames itself (headless) encodes its next one ([`crate::camera::photo::encode`]) and
    /// gives it to [`Self::photo_taken`].
    pub fn wants_photo(&self) -> bool {
        matches!(self.photo, PhotoRequest::Wanted { .. })
    }

    /// N6: a photo from elsewhere than the camera (a file, in the text front end) is the
    /// answer of the step on screen, if it asks for one.
    pub fn photo_from(&mut self, photo: Photo, cause: Cause) {
        let Some(step) = self.app.asks_photo() else {
            self.app.say("This step asks for no photo.");
            return;
        };
        self.photo = PhotoRequest::Wanted { step, cause };
        self.photo_taken(Ok(photo));
    }

    /// N6: the photo asked for (or why there is none) becomes the answer of the step it was
    /// asked at; one nobody asked for is dropped.
    pub fn photo_taken(&mut self, taken: Result<Photo, PhotoError>) {
        let (PhotoRequest::Wanted { step, cause } | PhotoRequest::Taking { step, cause }) =
            std::mem::take(&mut self.photo)
        else {
            return;
        };
        match taken {
            Ok(photo) => {
                if let Some(answered) = self.app.photo(step, photo) {
                    self.answered(answered, cause);
                }
            }
            Err(e) => {
                tracing::warn!("no photo: {e}");
                self.app.say(format!("The photo could not be taken: {e}"));
            }
        }
    }

    fn answered(&mut self, answered: Answered, cause: Cause) {
        let label = answered.answer.label();
        tracing::info!(step = %answered.step_id, answer = %label, %cause, "answered");
        let line = format!("{}: {} ({cause})", answered.step_id, label);
        self.report.answers.push(line.clone());
        self.observations.push(Observation::Answered {
            frame: self.frame + 1,
            line,
        });
        self.surroundings.record_answer(&answered);
        self.menu.dismiss_status();
    }
}

impl Driver {
    /// N6: the keys of the keypad beside the card now, if one is (a keyboard then types
    /// those into it).
    pub fn keypad_keys(&self) -> Option<Keys> {
        if self.menu.is_open() {
            return None;
        }
        self.app.keys_on_screen()
    }
}
