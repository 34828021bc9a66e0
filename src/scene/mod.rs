//! Layout in metres: turns the app's [`View`] (plus connectivity, the All list and the head pose)
//! into a [`Frame`] the renderer draws. Pure: glam only, no GPU, no clock.
//!
//! World space is OpenXR's: metres, +Y up, the user looks along -Z at start. A panel's own frame
//! has its centre at the origin, +X to its right, +Y up and +Z out of its face (towards the
//! reader); text positions inside a panel are given from its top-left corner, +y downwards, as
//! a page is read.

mod card;
mod layout;
mod panels;
mod side_panels;

use glam::{Mat4, Quat, Vec2, Vec3};

use crate::guide::Hologram;

pub use card::{AnsweredLine, CardView, KeypadView, StepCard};
pub use layout::{CardFollower, FollowSettings};
pub use panels::{MORE_GUIDES, NO_GUIDES_OFFLINE, OFFLINE_BANNER_TEXT};

/// Where the user's head is and where it looks (OpenXR convention: looks along its local -Z).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub position: Vec3,
    pub orientation: Quat,
}

impl Pose {
    pub const IDENTITY: Self = Self {
        position: Vec3::ZERO,
        orientation: Quat::IDENTITY,
    };

    /// A standing user: eyes 1.6 m above the floor, looking along -Z.
    pub fn standing() -> Self {
        Self {
            position: Vec3::new(0.0, 1.6, 0.0),
            orientation: Quat::IDENTITY,
        }
    }

    pub fn to_matrix(self) -> Mat4 {
        Mat4::from_rotation_translation(self.orientation, self.position)
    }

    /// `local`, given in this pose's frame, in the frame this pose is given in (a camera on a
    /// head: `head.then(camera_from_head)`).
    pub fn then(self, local: Pose) -> Pose {
        Pose {
            position: self.position + self.orientation * local.position,
            orientation: (self.orientation * local.orientation).normalize(),
        }
    }

    pub fn forward(self) -> Vec3 {
        self.orientation * Vec3::NEG_Z
    }

    /// A pose is usable when every number is finite and the rotation is not degenerate.
    pub fn is_finite(self) -> bool {
        self.position.is_finite()
            && self.orientation.is_finite()
            && self.orientation.length_squared() > 1e-6
    }
}

/// A QR anchor whose pose is known (from a detection, or scripted in tests).
#[derive(Debug, Clone, PartialEq)]
pub struct KnownAnchor {
    pub id: String,
    pub pose: Pose,
}

/// Everything the layout needs besides the app's view.
#[derive(Debug, Clone)]
pub struct SceneInput<'a> {
    pub view: &'a CardView<'a>,
    /// F2: the Offline banner shows while this is false.
    pub online: bool,
    /// F3: when the All list is open, the titles of the guides available offline.
    pub all_list: Option<&'a [String]>,
    /// A status line from outside the guide (e.g. "Sign in needs a network connection", F5).
    pub status: Option<&'a str>,
    /// S7: "Updates available: 3 guides, 12 MiB", answered with Download now or Later.
    pub prompt: Option<&'a str>,
    pub head: Pose,
    pub anchors: &'a [KnownAnchor],
    /// True when a camera finds the anchors (X3): a hologram whose anchor is not seen yet waits
    /// for it. False where no camera runs (the demo on a desk): such holograms stand in front of
    /// the user instead.
    pub anchors_tracked: bool,
    /// Seconds since the current step was shown: animations play from its start.
    pub step_time_s: f32,
}

/// One frame to draw: panels with text, pictures on them, and holograms.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub panels: Vec<Panel>,
    pub holograms: Vec<HologramInstance>,
    /// Drawn over the panels, after them.
    pub pictures: Vec<PictureInstance>,
}

/// A picture file of the guide to draw on a panel: fitted into `size` (its aspect kept),
/// centred on `world`'s origin, facing along its +Z.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureInstance {
    /// Path inside the guide package; the renderer decodes and uploads each once.
    pub asset: String,
    pub world: Mat4,
    /// The box it is fitted into, metres.
    pub size: Vec2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PanelKind {
    StepCard,
    OfflineBanner,
    AllList,
    Toast,
    /// S7: the question whether to download the offline profile's updates now.
    UpdatePrompt,
    /// N6: the keys for a number or a text, beside the step card.
    Keypad,
    /// The step's picture or video with its caption, beside the step card.
    Media,
}

/// A flat, rounded rectangle with text on it, placed in the world.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub kind: PanelKind,
    /// Panel frame → world: centre of the panel, its face along +Z.
    pub world: Mat4,
    /// Width and height in metres.
    pub size: Vec2,
    /// Linear RGBA, premultiplied by nothing.
    pub background: [f32; 4],
    pub corner_radius: f32,
    pub texts: Vec<TextBlock>,
    pub buttons: Vec<Button>,
    /// Plain shapes under the text (progress bar, rules), drawn after the background.
    pub shapes: Vec<Shape>,
}

/// A filled, rounded rectangle on a panel; metres from the panel's top-left, +y down.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub position: Vec2,
    pub size: Vec2,
    pub corner_radius: f32,
    /// Linear RGBA.
    pub colour: [f32; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FontWeight {
    Regular,
    SemiBold,
}

/// A block of wrapped text on a panel; all lengths in metres.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBlock {
    pub text: String,
    /// Top-left corner, from the panel's top-left, +y down.
    pub position: Vec2,
    /// Wrapping width.
    pub width: f32,
    /// Height of the text box; text past it is cut off.
    pub height: f32,
    /// Font size (em height).
    pub size: f32,
    pub weight: FontWeight,
    /// Linear RGBA.
    pub colour: [f32; 4],
}

/// What pressing a button on a panel asks the app for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButtonAction {
    Back,
    Next,
    Finish,
    Restart,
    /// S7: download the offered updates now.
    DownloadUpdates,
    /// S7: not now; asked again at the next sync.
    UpdatesLater,
    /// N6: the step's answer button of this position (from 0).
    Answer(u8),
    /// N6: a key of the keypad beside the card.
    Key(char),
    KeyErase,
    /// The keypad's OK: what is typed becomes the answer.
    KeyDone,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub action: ButtonAction,
    pub label: String,
    /// Top-left corner from the panel's top-left, +y down; metres.
    pub position: Vec2,
    pub size: Vec2,
    pub enabled: bool,
    /// The main action of the panel is drawn filled.
    pub primary: bool,
}

/// A glTF model to draw this frame.
#[derive(Debug, Clone, PartialEq)]
pub struct HologramInstance {
    /// Path inside the guide package; the renderer's asset cache is keyed by it.
    pub asset: String,
    /// Model → world.
    pub world: Mat4,
    pub animation: Option<String>,
    /// Animation clock for this hologram, seconds.
    pub time_s: f32,
}

impl Frame {
    /// Builds the frame. `follower` keeps the step card's lazily-following pose between frames.
    pub fn build(input: &SceneInput<'_>, follower: &mut CardFollower, dt_s: f32) -> Self {
        let head = if input.head.is_finite() {
            input.head
        } else {
            Pose::standing()
        };
        let card_pose = follower.update(head, dt_s);
        let mut panels = Vec::new();
        let mut pictures = Vec::new();
        match (input.all_list, input.view) {
            (Some(guides), _) => panels.push(panels::all_list(card_pose, guides)),
            (None, CardView::Step(step)) => {
                panels.push(panels::step_card(card_pose, input.view));
                if let Some(keypad) = &step.keypad {
                    panels.push(side_panels::keypad(card_pose, keypad));
                }
                if let Some(media) = step.media {
                    let (panel, picture) = side_panels::media(card_pose, media);
                    panels.push(panel);
                    pictures.extend(picture);
                }
            }
            (None, CardView::Complete { .. }) => {
                panels.push(panels::step_card(card_pose, input.view));
            }
        }
        let notice = match input.view {
            CardView::Step(step) => step.notice,
            CardView::Complete { .. } => None,
        };
        if let Some(message) = input.status.or(notice) {
            panels.push(panels::toast(card_pose, message));
        }
        if let Some(question) = input.prompt {
            panels.push(panels::update_prompt(card_pose, question));
        }
        if !input.online {
            panels.push(panels::offline_banner(head));
        }
        let holograms = match (input.view, input.all_list) {
            (CardView::Step(step), None) => place_holograms(step.holograms, input, card_pose),
            _ => Vec::new(),
        };
        Self {
            panels,
            holograms,
            pictures,
        }
    }
}

/// Where holograms go when no QR anchor has been seen: in front of the user and below the card,
/// the sticker's face turned towards them, as if on a workbench.
pub fn default_anchor(card: Pose) -> Pose {
    let right = card.orientation * Vec3::X;
    let towards_user = card.orientation * Vec3::Z;
    Pose {
        position: card.position + right * 0.42 - Vec3::Y * 0.32 + towards_user * 0.25,
        orientation: card.orientation,
    }
}

fn place_holograms(
    holograms: &[Hologram],
    input: &SceneInput<'_>,
    card: Pose,
) -> Vec<HologramInstance> {
    let fallback = default_anchor(card);
    holograms
        .iter()
        .filter(|h| {
            let finite = h.transform.to_matrix().is_finite();
            if !finite {
                tracing::warn!(asset = %h.asset, "hologram left out: its transform is not finite");
            }
            finite
        })
        .filter_map(|hologram| {
            let seen = hologram
                .anchor
                .as_deref()
                .and_then(|id| input.anchors.iter().find(|a| a.id == id))
                .map(|a| a.pose)
                .filter(|pose| pose.is_finite());
            let anchor = match seen {
                Some(pose) => pose,
                None if hologram.anchor.is_some() && input.anchors_tracked => return None,
                None => fallback,
            };
            Some(HologramInstance {
                asset: hologram.asset.clone(),
                world: anchor.to_matrix() * hologram.transform.to_matrix(),
                animation: hologram.animation.clone(),
                time_s: input.step_time_s.max(0.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
