//! The panels beside the step card: the keypad of a step that asks for a number or a text
//! (N6, right of the card) and the step's picture or video with its caption (left of it).

use glam::{Mat4, Vec2, Vec3};

use super::panels::{ACCENT, CARD_SIZE, PAD, PANEL_BG, TEXT, TEXT_DIM, TRACK, text};
use super::{Button, ButtonAction, FontWeight, Panel, PanelKind, PictureInstance, Pose, Shape};
use crate::guide::Media;

/// N6: the keys for a number or a text, beside the card's right edge, its top at the card's
/// top: what is typed shows above the keys, with what the step takes (unit, limits, length).
pub fn keypad(card: Pose, keypad: &super::KeypadView<'_>) -> Panel {
    let columns = keypad
        .rows
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(1);
    // Digits get big keys; letters smaller ones, still ≥ 1.5° at the card's distance.
    let (key, gap) = if columns > 3 {
        (0.036, 0.005)
    } else {
        (0.052, 0.008)
    };
    let width = 2.0 * PAD + columns as f32 * key + (columns - 1) as f32 * gap;
    let keys_top = PAD + 0.030 + 0.052 + 0.012;
    let rows = keypad.rows.len() as f32 + 1.0;
    let height = keys_top + rows * key + (rows - 1.0) * gap + PAD;
    let size = Vec2::new(width, height);
    let offset = Vec3::new(
        CARD_SIZE.x / 2.0 + 0.02 + width / 2.0,
        CARD_SIZE.y / 2.0 - height / 2.0,
        0.0,
    );
    let inner = width - 2.0 * PAD;
    let mut texts = vec![text(
        keypad.hint.clone(),
        Vec2::new(PAD, PAD),
        inner,
        1.0,
        0.7,
        FontWeight::Regular,
        TEXT_DIM,
    )];
    let display = Vec2::new(PAD, PAD + 0.030);
    let shapes = vec![Shape {
        position: display,
        size: Vec2::new(inner, 0.052),
        corner_radius: 0.01,
        colour: TRACK,
    }];
    let (typed, colour) = if keypad.typed.is_empty() {
        (if columns > 3 { "Type here" } else { "Value" }, TEXT_DIM)
    } else {
        (keypad.typed, TEXT)
    };
    texts.push(text(
        typed,
        display + Vec2::new(0.012, 0.012),
        inner - 0.024,
        1.0,
        1.1,
        FontWeight::SemiBold,
        colour,
    ));
    let mut buttons = Vec::new();
    let key_at = |row: usize, column: f32| {
        Vec2::new(
            PAD + column * (key + gap),
            keys_top + row as f32 * (key + gap),
        )
    };
    for (row, keys) in keypad.rows.iter().enumerate() {
        for (column, c) in keys.chars().enumerate() {
            buttons.push(Button {
                action: ButtonAction::Key(c),
                label: c.to_string(),
                position: key_at(row, column as f32),
                size: Vec2::new(key, key),
                enabled: true,
                primary: false,
            });
        }
    }
    // The last row: Erase, Space (letters only) and OK, across the width.
    let last = keypad.rows.len();
    let wide = |span: f32| Vec2::new(span * key + (span - 1.0) * gap, key);
    let (erase_span, space_span) = if columns > 3 { (3.0, 4.0) } else { (1.5, 0.0) };
    let ok_span = columns as f32 - erase_span - space_span;
    buttons.push(Button {
        action: ButtonAction::KeyErase,
        label: "Erase".into(),
        position: key_at(last, 0.0),
        size: wide(erase_span),
        enabled: !keypad.typed.is_empty(),
        primary: false,
    });
    if space_span > 0.0 {
        buttons.push(Button {
            action: ButtonAction::Key(' '),
            label: "Space".into(),
            position: key_at(last, erase_span),
            size: wide(space_span),
            enabled: true,
            primary: false,
        });
    }
    buttons.push(Button {
        action: ButtonAction::KeyDone,
        label: "OK".into(),
        position: key_at(last, erase_span + space_span),
        size: wide(ok_span),
        enabled: !keypad.typed.is_empty(),
        primary: true,
    });
    Panel {
        kind: PanelKind::Keypad,
        world: card.to_matrix() * Mat4::from_translation(offset),
        size,
        background: PANEL_BG,
        corner_radius: 0.02,
        texts,
        buttons,
        shapes,
    }
}

/// The step's media beside the card's left edge, its top at the card's top: a picture fitted
/// into its box (drawn by the renderer over the panel), or for a video a play mark and a line
/// saying it is not played here; the caption under it.
pub fn media(card: Pose, media: &Media) -> (Panel, Option<PictureInstance>) {
    let size = Vec2::new(0.36, 0.36);
    let frame = Vec2::new(size.x - 2.0 * PAD, 0.24);
    let offset = Vec3::new(
        -(CARD_SIZE.x / 2.0 + 0.02 + size.x / 2.0),
        CARD_SIZE.y / 2.0 - size.y / 2.0,
        0.0,
    );
    let world = card.to_matrix() * Mat4::from_translation(offset);
    let inner = size.x - 2.0 * PAD;
    let mut shapes = vec![Shape {
        position: Vec2::new(PAD, PAD),
        size: frame,
        corner_radius: 0.008,
        colour: TRACK,
    }];
    let mut texts = Vec::new();
    let picture = if media.is_video() {
        // No video decoder is built in (see the README): the first frame cannot be shown either.
        let mark = Vec2::splat(0.07);
        let mark_at = Vec2::new(PAD, PAD) + (frame - mark) / 2.0;
        shapes.push(Shape {
            position: mark_at,
            size: mark,
            corner_radius: mark.x / 2.0,
            colour: ACCENT,
        });
        texts.push(text(
            "Play",
            mark_at + Vec2::new(0.012, 0.022),
            mark.x - 0.012,
            1.0,
            0.8,
            FontWeight::SemiBold,
            TEXT,
        ));
        texts.push(text(
            "Video: not played on this device",
            Vec2::new(PAD + 0.01, PAD + frame.y - 0.035),
            frame.x - 0.02,
            1.0,
            0.7,
            FontWeight::Regular,
            TEXT_DIM,
        ));
        None
    } else {
        // Panel frame: centre at the origin, +Y up; the box's centre, a little in front.
        let centre = Vec3::new(
            -size.x / 2.0 + PAD + frame.x / 2.0,
            size.y / 2.0 - PAD - frame.y / 2.0,
            0.002,
        );
        Some(PictureInstance {
            asset: media.path.clone(),
            world: world * Mat4::from_translation(centre),
            size: frame,
        })
    };
    if !media.caption.is_empty() {
        texts.push(text(
            media.caption.clone(),
            Vec2::new(PAD, PAD + frame.y + 0.012),
            inner,
            2.0,
            0.8,
            FontWeight::Regular,
            TEXT,
        ));
    }
    let panel = Panel {
        kind: PanelKind::Media,
        world,
        size,
        background: PANEL_BG,
        corner_radius: 0.02,
        texts,
        buttons: Vec::new(),
        shapes,
    };
    (panel, picture)
}
