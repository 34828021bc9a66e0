//! The driver's QR stickers (X2, X3, F7): what a sighting does — a guide link moves to its
//! step or asks before opening another guide, an anchor sticker places its holograms — and the
//! answer to a sticker's question.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::{Driver, IGNORED_KEPT, Input};
use crate::app::Intent;
use crate::app::report::Cause;
use crate::app::script::Command;
use crate::camera::Sighting;
use crate::guide::link_trust::LinkRefusal;
use crate::guide::payload::{Ignored, guide_link_in};
use crate::guide::{GuideLink, LinkError};

impl Driver {
    /// The XR runtime reads and locates QR stickers itself (HoloLens 2's scene markers,
    /// `XR_EXT_spatial_marker_tracking`): while on, anchored holograms wait for their sticker as
    /// when a camera runs (X3). A shell turns it on once its marker tracker is up, and off if
    /// the tracker fails.
    pub fn runtime_tracks_stickers(&mut self, on: bool) {
        if on != self.runtime_markers {
            tracing::info!(
                "the XR runtime {} QR stickers",
                if on { "tracks" } else { "no longer tracks" }
            );
            self.runtime_markers = on;
        }
    }

    /// A sticker the runtime's own tracker located ([`crate::camera::runtime_marker`]): it goes
    /// the way a camera's sighting goes.
    pub fn runtime_sighting(&mut self, sighting: Sighting) {
        self.input(Input::QrDetected(Box::new(sighting)));
    }

    /// Whether stickers are looked for (a camera runs, or the runtime tracks them): anchored
    /// holograms then wait for theirs.
    pub(super) fn stickers_looked_for(&self) -> bool {
        self.camera || self.runtime_markers
    }

    /// A QR code seen (X2, F7). Only a guide link does anything ([`guide_link_in`]); anything
    /// else is logged once and opens nothing. A sticker acts once: seen again (the camera sees
    /// it every frame) it does nothing. A sticker of the guide shown goes to its step; one of
    /// another guide asks first, so a code in passing never throws away the operator's place.
    pub(super) fn sighted(&mut self, sighting: &Sighting) {
        let link = match guide_link_in(&sighting.payload) {
            Ok(link) => link,
            Err(why) => {
                let mut hasher = DefaultHasher::new();
                sighting.payload.hash(&mut hasher);
                let key = hasher.finish();
                if !self.ignored.contains(&key) {
                    tracing::info!("QR code ignored: {why}");
                    self.report.codes_ignored.push(why.to_string());
                    if self.ignored.len() == IGNORED_KEPT {
                        self.ignored.pop_front();
                    }
                    self.ignored.push_back(key);
                    // N2: our link with a signature that is no signature is a forgery the
                    // operator must hear of, not a stranger's code to pass over.
                    if why == Ignored::BadGuideLink(LinkError::InvalidSignature) {
                        self.sticker_question = None;
                        let change = self.menu.say(LinkRefusal::Malformed.to_string());
                        self.menu_changed(Some(change));
                    }
                }
                return;
            }
        };
        // N2: a forged or altered sticker, or an unsigned one where signatures are required,
        // does nothing but say so, once. Checked once per sticker, not per frame it is seen in
        // (a signature check is tens of microseconds of the frame loop).
        let seen_before = self.sticker.as_ref() == Some(&link);
        if seen_before && self.sticker_refused {
            return;
        }
        if !seen_before && let Err(refusal) = self.surroundings.check_link(&link) {
            tracing::warn!(link = %link, "QR sticker refused: {refusal}");
            self.sticker = Some(link);
            self.sticker_refused = true;
            self.sticker_question = None;
            let change = self.menu.say(refusal.to_string());
            self.menu_changed(Some(change));
            return;
        }
        self.track_anchor(&link, sighting);
        if seen_before {
            return;
        }
        tracing::info!(link = %link, "QR sticker seen");
        self.sticker = Some(link.clone());
        self.sticker_refused = false;
        if link.guide == self.content.guide.id {
            self.sticker_question = None;
            if let Some(step) = link.step {
                self.intent(Intent::GoToStep(step), Cause::Sticker);
            }
            return;
        }
        let title = self.sticker_title(&link);
        let change = self.menu.say(format!("Open {title}? Select to confirm"));
        self.sticker_question = Some(link);
        self.menu_changed(Some(change));
    }

    /// A sticker of the guide shown that names one of its anchors: one more sample of where
    /// the anchor is. An anchor the guide does not declare is said once, when first seen.
    fn track_anchor(&mut self, link: &GuideLink, sighting: &Sighting) {
        let Some(id) = link.anchor.as_deref() else {
            return;
        };
        if !self.stickers_looked_for() || link.guide != self.content.guide.id {
            return;
        }
        let Some(anchor) = self.content.guide.anchor(id) else {
            if self.sticker.as_ref() != Some(link) {
                tracing::warn!(link = %link, "the sticker names an anchor its guide does not have");
            }
            return;
        };
        let size_m = f64::from(anchor.size_mm) / 1000.0;
        if let Some(pose) = crate::app::stickers::anchor_in_world(sighting, size_m, self.head) {
            let new = !self.anchors.is_known(id);
            self.anchors.add(id, pose);
            if new && self.anchors.is_known(id) {
                let p = pose.position;
                let found = format!(
                    "{id} at frame {}, ({:.3}, {:.3}, {:.3}) m",
                    self.frame + 1,
                    p.x,
                    p.y,
                    p.z
                );
                tracing::info!("anchor found: {found}; its holograms stand on the sticker");
                self.report.anchors_found.push(found);
            }
        }
    }

    /// The sticker's guide as the All list named it; the service is not asked from the frame
    /// loop, so before any list it is named by what it is.
    fn sticker_title(&self, link: &GuideLink) -> String {
        self.menu
            .title_of(link.guide)
            .unwrap_or("the guide on this sticker")
            .to_owned()
    }

    /// Input while a sticker's question is on the card: Select confirms and the device opens
    /// the guide (F7: offline, only one this device has opened; else its refusal shows); Back
    /// only dismisses; anything else dismisses and goes on. True when the input is used up.
    pub(super) fn answer_question(&mut self, input: &Input) -> bool {
        let Some(link) = self.sticker_question.take() else {
            return false;
        };
        match input {
            Input::Select(_) | Input::Command(Command::Select, _) => {
                let title = self.sticker_title(&link);
                tracing::info!(link = %link, "opening the sticker's guide");
                let change = self
                    .menu
                    .open(link.guide, &title, self.surroundings.as_ref());
                self.sticker_opening = Some(link);
                self.menu_changed(Some(change));
                true
            }
            Input::Command(Command::Intent(Intent::Back), _) => {
                tracing::info!(link = %link, "sticker's question dismissed");
                self.menu.dismiss_status();
                true
            }
            Input::ToggleOffline => {
                self.sticker_question = Some(link);
                false
            }
            _ => {
                tracing::info!(link = %link, "sticker's question dismissed");
                self.menu.dismiss_status();
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use glam::{Quat, Vec2, Vec3};

    use super::*;
    use crate::app::GuideSource;
    use crate::app::device::{Content, Standalone};
    use crate::app::driver::DriverSettings;
    use crate::camera::runtime_marker::{self, RuntimeMarker, Symbology};
    use crate::scene::Pose;

    const NAMEPLATE: &str =
        "hologuide://hologuide-demo/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d?anchor=nameplate";

    fn demo_driver() -> Driver {
        let package = crate::demo::load().expect("the demo guide is in the source tree");
        let content = Content::from_package(Arc::new(package), GuideSource::Demo);
        Driver::new(content, Box::new(Standalone), DriverSettings::default())
    }

    #[test]
    fn a_sticker_the_runtime_located_anchors_its_holograms_there_without_a_camera() {
        let mut driver = demo_driver();
        let head = Pose::standing();
        let on_the_wall = Pose {
            position: Vec3::new(0.2, 1.1, -0.7),
            orientation: Quat::IDENTITY,
        };
        let marker = RuntimeMarker {
            payload: NAMEPLATE.as_bytes().to_vec(),
            pose: on_the_wall,
            centre: Vec2::ZERO,
            size: Some(Vec2::splat(0.05)),
            last_seen: Duration::from_secs(3),
            symbology: Symbology::Qr,
        };
        let sighting = runtime_marker::sighting(&marker, head).expect("a sighting");

        // No camera and no runtime tracker: holograms stand in front of the user, and a
        // sticker places nothing.
        driver.runtime_sighting(sighting.clone());
        driver.frame(head, 1.0 / 60.0);
        assert!(driver.report().anchors_found.is_empty());

        // The runtime's tracker is up: the card asks for the sticker until it is seen.
        let asks = |driver: &Driver| {
            driver.last_frame().is_some_and(|f| {
                f.panels
                    .iter()
                    .flat_map(|p| &p.texts)
                    .any(|t| t.text.starts_with("Look at the sticker"))
            })
        };
        driver.frame(head, 1.0 / 60.0);
        assert!(!asks(&driver));
        driver.runtime_tracks_stickers(true);
        driver.frame(head, 1.0 / 60.0);
        assert!(asks(&driver));
        driver.runtime_sighting(sighting);
        driver.frame(head, 1.0 / 60.0);
        assert_eq!(
            driver.report().anchors_found.len(),
            1,
            "{:?}",
            driver.report()
        );
        let anchored = driver.anchors.known();
        assert_eq!(anchored.len(), 1);
        assert_eq!(anchored[0].id, "nameplate");
        assert!(anchored[0].pose.position.distance(on_the_wall.position) < 1e-5);
        assert!(!asks(&driver));
    }
}
