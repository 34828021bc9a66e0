//! Pointing at the card's buttons: a controller's aim ray, a hand's pinch ray, or the head's
//! gaze held still for a moment (dwell) when nothing else is available. Pure: glam only.

use glam::{Vec2, Vec3};

use crate::scene::{ButtonAction, Frame, MORE_GUIDES, NO_GUIDES_OFFLINE, Panel, PanelKind};

/// A ray in world space (metres); `direction` need not be normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ray {
    pub origin: Vec3,
    pub direction: Vec3,
}

/// The nearest enabled button the ray hits on any panel of the frame, with the distance along
/// the ray. Panels are hit only from their face side, as they are seen.
pub fn hit_button(frame: &Frame, ray: Ray) -> Option<(ButtonAction, f32)> {
    let mut best: Option<(ButtonAction, f32)> = None;
    for panel in frame.panels.iter().filter(|p| !p.buttons.is_empty()) {
        let Some((on_panel, distance)) = on_face(panel, ray) else {
            continue;
        };
        for button in panel.buttons.iter().filter(|b| b.enabled) {
            let inside = on_panel.cmpge(button.position).all()
                && on_panel.cmple(button.position + button.size).all();
            if inside && best.is_none_or(|(_, d)| distance < d) {
                best = Some((button.action, distance));
            }
        }
    }
    best
}

/// F3: the All list's entry (numbered from 1, as drawn) the ray points at, with the distance
/// along the ray. The list's heading and its empty text are no entries.
pub fn hit_list_entry(frame: &Frame, ray: Ray) -> Option<(usize, f32)> {
    let panel = frame.panels.iter().find(|p| p.kind == PanelKind::AllList)?;
    let (on_panel, distance) = on_face(panel, ray)?;
    // The first text is the heading "All"; the entries follow it in order.
    panel
        .texts
        .iter()
        .skip(1)
        .position(|t| {
            t.text != NO_GUIDES_OFFLINE
                && !t.text.starts_with(MORE_GUIDES)
                && on_panel.cmpge(t.position).all()
                && on_panel
                    .cmple(t.position + Vec2::new(t.width, t.height))
                    .all()
        })
        .map(|i| (i + 1, distance))
}

/// Where the ray meets the face of `panel`, in panel coordinates from its top-left corner (+y
/// down, as the scene lays panels out), and how far along the ray.
fn on_face(panel: &Panel, ray: Ray) -> Option<(Vec2, f32)> {
    if !ray.origin.is_finite() || !ray.direction.is_finite() || ray.direction.length() < 1e-6 {
        return None;
    }
    let to_panel = panel.world.inverse();
    if !to_panel.is_finite() {
        return None;
    }
    let origin = to_panel.transform_point3(ray.origin);
    let direction = to_panel.transform_vector3(ray.direction);
    // The face looks along +Z: the ray must come from in front and travel towards -Z.
    if origin.z <= 0.0 || direction.z >= 0.0 {
        return None;
    }
    let t = -origin.z / direction.z;
    let point = origin + direction * t;
    let on_panel = Vec2::new(point.x + panel.size.x / 2.0, panel.size.y / 2.0 - point.y);
    let distance = (direction * t).length() / to_panel.transform_vector3(Vec3::X).length();
    Some((on_panel, distance))
}

/// Head-gaze dwell: a button looked at without a break for `dwell_s` is pressed once; looking
/// away (or at another button) starts over. The always-available input when a runtime offers
/// no controller and no hands.
#[derive(Debug, Clone)]
pub struct Dwell {
    dwell_s: f32,
    target: Option<ButtonAction>,
    held_s: f32,
    fired: bool,
}

impl Dwell {
    pub fn new(dwell_s: f32) -> Self {
        Self {
            dwell_s,
            target: None,
            held_s: 0.0,
            fired: false,
        }
    }

    /// How far the current dwell has got, 0..1 (for a progress ring).
    pub fn progress(&self) -> f32 {
        if self.target.is_none() || self.fired {
            0.0
        } else {
            (self.held_s / self.dwell_s).clamp(0.0, 1.0)
        }
    }

    /// Feeds what the gaze hits this frame; returns the button to press, once per dwell.
    pub fn update(&mut self, looked_at: Option<ButtonAction>, dt_s: f32) -> Option<ButtonAction> {
        if looked_at != self.target {
            self.target = looked_at;
            self.held_s = 0.0;
            self.fired = false;
            return None;
        }
        let target = self.target?;
        if self.fired {
            return None;
        }
        self.held_s += dt_s.max(0.0);
        if self.held_s >= self.dwell_s {
            self.fired = true;
            return Some(target);
        }
        None
    }
}

/// A pinch of thumb and index fingertips, from hand tracking: closes below 1.5 cm, opens
/// again above 3 cm (the gap keeps a trembling hand from pressing twice).
#[derive(Debug, Clone, Default)]
pub struct Pinch {
    closed: bool,
}

impl Pinch {
    const CLOSE_M: f32 = 0.015;
    const OPEN_M: f32 = 0.03;

    /// Feeds this frame's fingertip distance (`None`: the hand is not tracked); returns true
    /// on the frame the pinch closes.
    pub fn update(&mut self, fingertips_m: Option<f32>) -> bool {
        match fingertips_m.filter(|d| d.is_finite()) {
            None => {
                self.closed = false;
                false
            }
            Some(d) if !self.closed && d < Self::CLOSE_M => {
                self.closed = true;
                true
            }
            Some(d) if self.closed && d > Self::OPEN_M => {
                self.closed = false;
                false
            }
            Some(_) => false,
        }
    }
}

/// Rays at what the first panel of a frame shows, for tests that point as a user would.
#[cfg(test)]
pub(crate) mod aim {
    use glam::{Vec2, Vec3};

    use super::Ray;
    use crate::scene::{ButtonAction, Frame, Panel, Pose};

    /// From `head` to the centre of the button for `action`, on whichever panel has it.
    pub(crate) fn at_button(frame: &Frame, action: ButtonAction, head: Pose) -> Ray {
        let (panel, button) = frame
            .panels
            .iter()
            .find_map(|p| Some((p, p.buttons.iter().find(|b| b.action == action)?)))
            .expect("a panel has the button");
        at_point(panel, button.position + button.size / 2.0, head)
    }

    /// From `head` to the middle of the left part of text `index` of the first panel.
    pub(crate) fn at_text(frame: &Frame, index: usize, head: Pose) -> Ray {
        let panel = &frame.panels[0];
        let text = &panel.texts[index];
        at_point(
            panel,
            text.position + Vec2::new(0.05, text.height / 2.0),
            head,
        )
    }

    /// From `head` to `point` (from the panel's top-left, +y down).
    fn at_point(panel: &Panel, point: Vec2, head: Pose) -> Ray {
        let local = Vec3::new(
            point.x - panel.size.x / 2.0,
            panel.size.y / 2.0 - point.y,
            0.0,
        );
        Ray {
            origin: head.position,
            direction: panel.world.transform_point3(local) - head.position,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use super::*;
    use crate::app::{App, GuideSource};
    use crate::scene::{CardFollower, Pose, SceneInput};

    fn demo_frame(step: u32) -> Frame {
        let package = crate::demo::load().expect("demo guide");
        let app = App::open(
            Arc::new(package.guide),
            GuideSource::Demo,
            NonZeroU32::new(step),
        );
        let view = app.view();
        let input = SceneInput {
            view: &view,
            online: true,
            all_list: None,
            status: None,
            prompt: None,
            head: Pose::standing(),
            anchors: &[],
            anchors_tracked: false,
            step_time_s: 0.0,
        };
        Frame::build(&input, &mut CardFollower::default(), 0.0)
    }

    fn ray_to(frame: &Frame, action: ButtonAction) -> Ray {
        aim::at_button(frame, action, Pose::standing())
    }

    fn list_frame(lines: &[String]) -> Frame {
        let package = crate::demo::load().expect("demo guide");
        let app = App::open(Arc::new(package.guide), GuideSource::Demo, None);
        let view = app.view();
        let input = SceneInput {
            view: &view,
            online: true,
            all_list: Some(lines),
            status: None,
            prompt: None,
            head: Pose::standing(),
            anchors: &[],
            anchors_tracked: false,
            step_time_s: 0.0,
        };
        Frame::build(&input, &mut CardFollower::default(), 0.0)
    }

    fn ray_to_text(frame: &Frame, index: usize) -> Ray {
        aim::at_text(frame, index, Pose::standing())
    }

    #[test]
    fn f3_pointing_at_an_all_list_entry_chooses_it_and_the_heading_or_empty_text_chooses_nothing() {
        let lines = ["1. Pump filter".to_owned(), "2. Valve check".to_owned()];
        let frame = list_frame(&lines);
        assert_eq!(frame.panels[0].kind, PanelKind::AllList);
        let entry = |i| hit_list_entry(&frame, ray_to_text(&frame, i)).map(|(n, _)| n);
        assert_eq!(entry(1), Some(1));
        assert_eq!(entry(2), Some(2));
        assert_eq!(entry(0), None, "the heading");
        let away = Ray {
            origin: Pose::standing().position,
            direction: Vec3::Z,
        };
        assert_eq!(hit_list_entry(&frame, away), None);
        let empty = list_frame(&[]);
        assert_eq!(
            hit_list_entry(&empty, ray_to_text(&empty, 1)),
            None,
            "the empty text"
        );
        assert_eq!(hit_list_entry(&demo_frame(1), away), None, "no list shown");
        // A list longer than the card: its last row says how many are left out, not an entry.
        let many: Vec<String> = (1..=20).map(|n| format!("{n}. Guide {n}")).collect();
        let long = list_frame(&many);
        let last = long.panels[0].texts.len() - 1;
        assert!(long.panels[0].texts[last].text.starts_with(MORE_GUIDES));
        assert_eq!(hit_list_entry(&long, ray_to_text(&long, last)), None);
        assert_eq!(
            hit_list_entry(&long, ray_to_text(&long, last - 1)).map(|(n, _)| n),
            Some(last - 1)
        );
    }

    #[test]
    fn aiming_at_the_next_button_of_the_step_card_presses_next() {
        let frame = demo_frame(2);
        let hit = hit_button(&frame, ray_to(&frame, ButtonAction::Next));
        assert_eq!(hit.map(|(a, _)| a), Some(ButtonAction::Next));
        let hit = hit_button(&frame, ray_to(&frame, ButtonAction::Back));
        assert_eq!(hit.map(|(a, _)| a), Some(ButtonAction::Back));
    }

    #[test]
    fn aiming_at_the_middle_of_the_card_or_away_from_it_presses_nothing() {
        let frame = demo_frame(2);
        let head = Pose::standing();
        let centre = frame.panels[0].world.transform_point3(Vec3::ZERO);
        let at_text = Ray {
            origin: head.position,
            direction: centre - head.position,
        };
        assert_eq!(hit_button(&frame, at_text), None);
        let away = Ray {
            origin: head.position,
            direction: -(centre - head.position),
        };
        assert_eq!(hit_button(&frame, away), None);
    }

    #[test]
    fn a_disabled_back_button_on_the_first_step_cannot_be_pressed() {
        let frame = demo_frame(1);
        let back = frame.panels[0]
            .buttons
            .iter()
            .find(|b| b.action == ButtonAction::Back);
        if let Some(back) = back {
            assert!(!back.enabled);
            assert_eq!(hit_button(&frame, ray_to(&frame, ButtonAction::Back)), None);
        }
    }

    #[test]
    fn a_ray_with_non_finite_numbers_hits_nothing() {
        let frame = demo_frame(2);
        let ray = Ray {
            origin: Vec3::new(f32::NAN, 1.6, 0.0),
            direction: Vec3::NEG_Z,
        };
        assert_eq!(hit_button(&frame, ray), None);
        let ray = Ray {
            origin: Vec3::ZERO,
            direction: Vec3::ZERO,
        };
        assert_eq!(hit_button(&frame, ray), None);
    }

    #[test]
    fn gaze_held_on_a_button_for_the_dwell_time_presses_it_once() {
        let mut dwell = Dwell::new(1.0);
        let next = Some(ButtonAction::Next);
        assert_eq!(dwell.update(next, 0.05), None, "the first look only starts");
        let mut pressed = Vec::new();
        for _ in 0..40 {
            pressed.extend(dwell.update(next, 0.05));
        }
        assert_eq!(
            pressed,
            vec![ButtonAction::Next],
            "pressed once, not repeatedly"
        );
    }

    #[test]
    fn looking_away_before_the_dwell_time_starts_over() {
        let mut dwell = Dwell::new(1.0);
        let next = Some(ButtonAction::Next);
        for _ in 0..15 {
            assert_eq!(dwell.update(next, 0.05), None);
        }
        assert!(dwell.progress() > 0.5);
        assert_eq!(dwell.update(None, 0.05), None);
        assert_eq!(dwell.progress(), 0.0);
        for _ in 0..15 {
            assert_eq!(dwell.update(next, 0.05), None);
        }
        assert_eq!(dwell.update(Some(ButtonAction::Back), 0.05), None);
    }

    #[test]
    fn a_pinch_presses_once_and_must_open_wide_before_pressing_again() {
        let mut pinch = Pinch::default();
        let presses: Vec<bool> = [0.05, 0.02, 0.01, 0.012, 0.02, 0.01, 0.04, 0.01]
            .into_iter()
            .map(|d| pinch.update(Some(d)))
            .collect();
        assert_eq!(
            presses,
            vec![false, false, true, false, false, false, false, true]
        );
    }

    #[test]
    fn a_hand_lost_mid_pinch_does_not_press_when_it_comes_back_open() {
        let mut pinch = Pinch::default();
        assert!(pinch.update(Some(0.01)));
        assert!(!pinch.update(None));
        assert!(!pinch.update(Some(0.05)));
        assert!(!pinch.update(Some(f32::NAN)));
        assert!(pinch.update(Some(0.01)));
    }
}
