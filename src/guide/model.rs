//! The guide model: guide → tasks → steps, holograms placed relative to QR anchors.
//!
//! These types are what `guide.json` holds once it has been checked. They serialise
//! back to the same JSON (see `serialise_round_trips` in the decoder tests).

use glam::{Mat4, Quat, Vec3};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The newest `schema_version` this build reads; it reads every one from
/// [`OLDEST_SCHEMA_VERSION`] and writes a guide back with the version it was read with.
/// Version 2 added `capture` on steps (N6).
pub const SCHEMA_VERSION: u32 = 2;
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// A guide: what an operator opens and follows step by step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guide {
    pub schema_version: u32,
    pub id: Uuid,
    /// Revision number; the service assigns a new one on every publish (F12).
    pub version: u32,
    pub title: String,
    pub description: String,
    /// Organisation slug, as used in guide links (`hologuide://<org>/g/<id>`).
    pub organisation: String,
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<Anchor>,
    pub tasks: Vec<Task>,
}

/// A printed QR sticker whose pose places the holograms that refer to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anchor {
    pub id: String,
    /// Where the sticker is, in words an operator understands ("front of the pump, left of the inlet").
    pub label: String,
    /// Edge length of the printed code, quiet zone excluded. Pose estimation needs it.
    pub size_mm: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holograms: Vec<Hologram>,
    /// What the operator records at this step (schema version 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<super::capture::Capture>,
}

/// A picture or video shown on the step card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Media {
    /// Path inside the package.
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub caption: String,
}

impl Media {
    /// An MP4 video (the only video kind a package may hold); else a picture.
    pub fn is_video(&self) -> bool {
        self.path
            .rsplit_once('.')
            .is_some_and(|(_, extension)| extension.eq_ignore_ascii_case("mp4"))
    }
}

/// A glTF model placed relative to an anchor (or in front of the user when `anchor` is absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hologram {
    /// Path of a `.glb`/`.gltf` file inside the package.
    pub asset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    #[serde(skip_serializing_if = "Transform::is_identity")]
    pub transform: Transform,
    /// Name of a glTF animation played in a loop while the step is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub animation: Option<String>,
}

/// Placement relative to the anchor, in metres; the anchor's frame is +Y up out of the sticker's top edge,
/// +Z out of the sticker's face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Transform {
    pub translation: Vec3,
    /// Unit quaternion `[x, y, z, w]`.
    pub rotation: Quat,
    pub scale: Vec3,
}

impl Default for Transform {
    fn default() -> Self {
        Self {
            translation: Vec3::ZERO,
            rotation: Quat::IDENTITY,
            scale: Vec3::ONE,
        }
    }
}

impl Transform {
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    pub fn to_matrix(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(self.scale, self.rotation, self.translation)
    }
}

/// Where a step sits in the guide: the task it belongs to and its position in the whole guide.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPosition<'a> {
    pub task: &'a Task,
    pub task_index: usize,
    pub step: &'a Step,
    /// 0-based position within its task.
    pub index_in_task: usize,
    /// 0-based position across all tasks.
    pub index: usize,
}

impl Guide {
    /// Every step of every task, in the order an operator follows them.
    pub fn steps(&self) -> impl Iterator<Item = StepPosition<'_>> {
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(task_index, task)| {
                task.steps
                    .iter()
                    .enumerate()
                    .map(move |(index_in_task, step)| (task_index, task, index_in_task, step))
            })
            .enumerate()
            .map(
                |(index, (task_index, task, index_in_task, step))| StepPosition {
                    task,
                    task_index,
                    step,
                    index_in_task,
                    index,
                },
            )
    }

    pub fn step_count(&self) -> usize {
        self.tasks.iter().map(|t| t.steps.len()).sum()
    }

    pub fn step(&self, index: usize) -> Option<StepPosition<'_>> {
        self.steps().nth(index)
    }

    pub fn anchor(&self, id: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.id == id)
    }

    /// Every file the guide refers to, in order of first use, without duplicates.
    pub fn asset_paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = Vec::new();
        let all = self.steps().flat_map(|p| {
            p.step
                .media
                .iter()
                .map(|m| m.path.as_str())
                .chain(p.step.holograms.iter().map(|h| h.asset.as_str()))
        });
        for path in all {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }
}
