//! The panels' contents and their layout in metres.
//!
//! Text height is chosen for legibility at the panel's distance: an em of about 1° of visual angle
//! for body text (≈ 23 mm at 1.3 m), larger for titles. Colours work on additive displays too
//! (HoloLens shows black as transparent): bright text on a dark-but-not-black panel.

use glam::{Mat4, Vec2, Vec3};

use super::CardView;
use super::{Button, ButtonAction, FontWeight, Panel, PanelKind, Pose, Shape, TextBlock};

/// The exact text of F3 when no guide is cached.
pub const NO_GUIDES_OFFLINE: &str = "No guides are available offline.";
/// How the All list's last row starts when the list is longer than the card (not an entry).
pub const MORE_GUIDES: &str = "… and ";
pub const OFFLINE_BANNER_TEXT: &str = "Offline — guides you opened before still work";

pub(super) const CARD_SIZE: Vec2 = Vec2::new(0.64, 0.48);
pub(super) const PAD: f32 = 0.03;
/// Distance the text sizes are chosen for (the card's distance, see `FollowSettings`).
const READING_DISTANCE: f32 = 1.3;

pub(super) const PANEL_BG: [f32; 4] = [0.018, 0.026, 0.040, 0.94];
pub(super) const TEXT: [f32; 4] = [0.93, 0.95, 0.97, 1.0];
pub(super) const TEXT_DIM: [f32; 4] = [0.42, 0.47, 0.54, 1.0];
pub(super) const ACCENT: [f32; 4] = [0.10, 0.55, 0.95, 1.0];
pub(super) const TRACK: [f32; 4] = [0.06, 0.08, 0.11, 1.0];
const BANNER_BG: [f32; 4] = [0.85, 0.42, 0.03, 0.96];
const BANNER_TEXT: [f32; 4] = [0.02, 0.015, 0.01, 1.0];
/// An answer outside its step's limits.
const WARNING: [f32; 4] = [0.98, 0.62, 0.10, 1.0];
const TOAST_BG: [f32; 4] = [0.28, 0.03, 0.03, 0.94];
/// Opaque: the card's title under it must not show through the question.
const PROMPT_BG: [f32; 4] = [0.035, 0.06, 0.10, 1.0];

/// Em height that subtends `degrees` at `distance` metres.
pub fn text_size_for(distance: f32, degrees: f32) -> f32 {
    distance * degrees.to_radians().tan()
}

pub(super) fn text(
    text: impl Into<String>,
    at: Vec2,
    width: f32,
    lines: f32,
    degrees: f32,
    weight: FontWeight,
    colour: [f32; 4],
) -> TextBlock {
    let size = text_size_for(READING_DISTANCE, degrees);
    TextBlock {
        text: text.into(),
        position: at,
        width,
        height: size * 1.3 * lines,
        size,
        weight,
        colour,
    }
}

pub fn step_card(pose: Pose, view: &CardView<'_>) -> Panel {
    let inner = CARD_SIZE.x - 2.0 * PAD;
    let mut texts = Vec::new();
    let mut buttons = Vec::new();
    let mut shapes = Vec::new();
    let button_size = Vec2::new(0.16, 0.06);
    let button_y = CARD_SIZE.y - PAD - button_size.y;
    match view {
        CardView::Step(step) => {
            let mut header = step.guide_title.to_owned();
            if step.demo {
                header.push_str("  ·  DEMO");
            }
            texts.push(text(
                header,
                Vec2::new(PAD, PAD),
                inner,
                1.0,
                0.75,
                FontWeight::Regular,
                TEXT_DIM,
            ));
            texts.push(text(
                format!("Step {} of {}", step.step_number, step.step_count),
                Vec2::new(PAD, PAD + 0.030),
                inner,
                1.0,
                0.85,
                FontWeight::SemiBold,
                ACCENT,
            ));
            texts.push(text(
                format!(
                    "Task {} of {} · {}",
                    step.task_number, step.task_count, step.task_title
                ),
                Vec2::new(PAD, PAD + 0.058),
                inner,
                1.0,
                0.75,
                FontWeight::Regular,
                TEXT_DIM,
            ));
            // Progress through the guide: a thin track under the header, filled up to this step.
            let track = Vec2::new(inner, 0.004);
            let done = step.step_number as f32 / step.step_count.max(1) as f32;
            let at = Vec2::new(PAD, PAD + 0.088);
            shapes.push(Shape {
                position: at,
                size: track,
                corner_radius: track.y / 2.0,
                colour: TRACK,
            });
            shapes.push(Shape {
                position: at,
                size: Vec2::new(track.x * done, track.y),
                corner_radius: track.y / 2.0,
                colour: ACCENT,
            });
            texts.push(text(
                step.title,
                Vec2::new(PAD, PAD + 0.104),
                inner,
                2.0,
                1.45,
                FontWeight::SemiBold,
                TEXT,
            ));
            // A step that asks for an answer gives two of the body's lines to its buttons.
            let body_lines = if step.answers.is_empty() { 4.0 } else { 2.0 };
            answer_buttons(step, inner, &mut buttons);
            texts.push(text(
                step.body,
                Vec2::new(PAD, PAD + 0.200),
                inner,
                body_lines,
                1.0,
                FontWeight::Regular,
                TEXT,
            ));
            if let Some(answered) = &step.answered {
                // Between Back and Next: what was answered, and whether the device kept it.
                let left = PAD + button_size.x + 0.01;
                texts.push(text(
                    answered.text.clone(),
                    Vec2::new(left, button_y + 0.004),
                    CARD_SIZE.x - 2.0 * left,
                    2.0,
                    0.75,
                    FontWeight::SemiBold,
                    if answered.flagged { WARNING } else { ACCENT },
                ));
            }
            buttons.push(Button {
                action: ButtonAction::Back,
                label: "Back".into(),
                position: Vec2::new(PAD, button_y),
                size: button_size,
                enabled: step.can_go_back,
                primary: false,
            });
            let (action, label) = if step.is_last {
                (ButtonAction::Finish, "Finish")
            } else {
                (ButtonAction::Next, "Next")
            };
            buttons.push(Button {
                action,
                label: label.into(),
                position: Vec2::new(CARD_SIZE.x - PAD - button_size.x, button_y),
                size: button_size,
                enabled: true,
                primary: true,
            });
        }
        CardView::Complete {
            guide_title,
            step_count,
        } => {
            texts.push(text(
                *guide_title,
                Vec2::new(PAD, PAD),
                inner,
                1.0,
                0.75,
                FontWeight::Regular,
                TEXT_DIM,
            ));
            texts.push(text(
                "Guide complete",
                Vec2::new(PAD, PAD + 0.075),
                inner,
                1.0,
                1.45,
                FontWeight::SemiBold,
                TEXT,
            ));
            texts.push(text(
                format!("All {step_count} steps are done."),
                Vec2::new(PAD, PAD + 0.165),
                inner,
                2.0,
                1.0,
                FontWeight::Regular,
                TEXT,
            ));
            buttons.push(Button {
                action: ButtonAction::Back,
                label: "Back".into(),
                position: Vec2::new(PAD, button_y),
                size: button_size,
                enabled: true,
                primary: false,
            });
            buttons.push(Button {
                action: ButtonAction::Restart,
                label: "Restart".into(),
                position: Vec2::new(CARD_SIZE.x - PAD - button_size.x, button_y),
                size: button_size,
                enabled: true,
                primary: true,
            });
        }
    }
    Panel {
        kind: PanelKind::StepCard,
        world: pose.to_matrix(),
        size: CARD_SIZE,
        background: PANEL_BG,
        corner_radius: 0.02,
        texts,
        buttons,
        shapes,
    }
}

/// N6: a step's answers as buttons under its body, three to a row; the one given is filled.
fn answer_buttons(step: &super::StepCard<'_>, inner: f32, buttons: &mut Vec<Button>) {
    let per_row = 3;
    let gap = 0.01;
    let rows = step.answers.len().div_ceil(per_row).max(1);
    let height = if rows > 1 { 0.042 } else { 0.048 };
    let width = (inner - gap * (per_row - 1) as f32) / per_row as f32;
    for (i, label) in step.answers.iter().enumerate() {
        let (row, column) = (i / per_row, i % per_row);
        buttons.push(Button {
            action: ButtonAction::Answer(i as u8),
            label: label.clone(),
            position: Vec2::new(
                PAD + column as f32 * (width + gap),
                PAD + 0.265 + row as f32 * (height + 0.006),
            ),
            size: Vec2::new(width, height),
            enabled: true,
            primary: step.answered.as_ref().and_then(|a| a.button) == Some(i),
        });
    }
}

/// F3: the guides available offline, or the exact sentence when there are none.
pub fn all_list(pose: Pose, guides: &[String]) -> Panel {
    let inner = CARD_SIZE.x - 2.0 * PAD;
    let mut texts = vec![text(
        "All",
        Vec2::new(PAD, PAD),
        inner,
        1.0,
        1.45,
        FontWeight::SemiBold,
        TEXT,
    )];
    if guides.is_empty() {
        texts.push(text(
            NO_GUIDES_OFFLINE,
            Vec2::new(PAD, PAD + 0.08),
            inner,
            2.0,
            1.0,
            FontWeight::Regular,
            TEXT_DIM,
        ));
    } else {
        let row = 0.045;
        let rows = ((CARD_SIZE.y - PAD - 0.08) / row).floor() as usize;
        // A list longer than the card says how many it leaves out rather than cut silently.
        let shown = if guides.len() > rows {
            rows.saturating_sub(1)
        } else {
            guides.len()
        };
        let more = (guides.len() > shown).then(|| {
            format!(
                "{MORE_GUIDES}{} more (`hologuide guides` lists all)",
                guides.len() - shown
            )
        });
        let lines = guides[..shown]
            .iter()
            .map(|title| (title.as_str(), TEXT))
            .chain(more.as_deref().map(|more| (more, TEXT_DIM)));
        for (i, (line, colour)) in lines.enumerate() {
            texts.push(text(
                line,
                Vec2::new(PAD, PAD + 0.08 + row * i as f32),
                inner,
                1.0,
                1.0,
                FontWeight::Regular,
                colour,
            ));
        }
    }
    Panel {
        kind: PanelKind::AllList,
        world: pose.to_matrix(),
        size: CARD_SIZE,
        background: PANEL_BG,
        corner_radius: 0.02,
        texts,
        buttons: Vec::new(),
        shapes: Vec::new(),
    }
}

/// A message over the card's bottom edge, just in front of it.
pub fn toast(card: Pose, message: &str) -> Panel {
    let size = Vec2::new(CARD_SIZE.x - 0.06, 0.07);
    let offset = Vec3::new(0.0, -CARD_SIZE.y / 2.0 - size.y / 2.0 - 0.015, 0.01);
    Panel {
        kind: PanelKind::Toast,
        world: card.to_matrix() * Mat4::from_translation(offset),
        size,
        background: TOAST_BG,
        corner_radius: 0.015,
        texts: vec![text(
            message,
            Vec2::new(0.02, 0.018),
            size.x - 0.04,
            2.0,
            0.8,
            FontWeight::SemiBold,
            TEXT,
        )],
        buttons: Vec::new(),
        shapes: Vec::new(),
    }
}

/// S7: the offer to download the offline profile's updates, just in front of the card's upper
/// half (the card stays readable below it), with its two answers as buttons.
pub fn update_prompt(card: Pose, question: &str) -> Panel {
    let size = Vec2::new(CARD_SIZE.x - 0.04, 0.19);
    let offset = Vec3::new(0.0, CARD_SIZE.y / 2.0 - size.y / 2.0 - 0.02, 0.03);
    let button_size = Vec2::new(0.2, 0.055);
    let button_y = size.y - PAD - button_size.y;
    Panel {
        kind: PanelKind::UpdatePrompt,
        world: card.to_matrix() * Mat4::from_translation(offset),
        size,
        background: PROMPT_BG,
        corner_radius: 0.02,
        texts: vec![text(
            question,
            Vec2::new(PAD, PAD),
            size.x - 2.0 * PAD,
            2.0,
            1.0,
            FontWeight::SemiBold,
            TEXT,
        )],
        buttons: vec![
            Button {
                action: ButtonAction::UpdatesLater,
                label: "Later".into(),
                position: Vec2::new(PAD, button_y),
                size: button_size,
                enabled: true,
                primary: false,
            },
            Button {
                action: ButtonAction::DownloadUpdates,
                label: "Download now".into(),
                position: Vec2::new(size.x - PAD - button_size.x, button_y),
                size: button_size,
                enabled: true,
                primary: true,
            },
        ],
        shapes: Vec::new(),
    }
}

/// F2: pinned near the top of the view, so it is seen wherever the user looks.
pub fn offline_banner(head: Pose) -> Panel {
    let distance = 1.2_f32;
    // 12° above the line of sight: at the top of even a narrow headset's view (HoloLens 2: about
    // ±14.5° vertically), above the step card when the user looks at it.
    let up = distance * 12.5_f32.to_radians().tan();
    let size = Vec2::new(0.5, 0.05);
    let local = Mat4::from_translation(Vec3::new(0.0, up, -distance));
    let degrees = 0.9;
    let text_size = text_size_for(distance, degrees);
    Panel {
        kind: PanelKind::OfflineBanner,
        world: head.to_matrix() * local,
        size,
        background: BANNER_BG,
        corner_radius: 0.025,
        texts: vec![TextBlock {
            text: OFFLINE_BANNER_TEXT.into(),
            position: Vec2::new(0.02, (size.y - text_size * 1.3) / 2.0),
            width: size.x - 0.04,
            height: text_size * 1.3,
            size: text_size,
            weight: FontWeight::SemiBold,
            colour: BANNER_TEXT,
        }],
        buttons: Vec::new(),
        shapes: Vec::new(),
    }
}
