//! `guide.json` → [`Guide`], reporting every problem with its JSON path.
//!
//! A serde derive stops at the first mismatch; authors fixing a guide want the whole list at once,
//! so the document is walked by hand. The checks that need the package's files live in `package`.

use std::collections::HashMap;

use glam::{Quat, Vec3};
use serde_json::{Map, Value};

use super::model::{
    Anchor, Guide, Hologram, Media, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION, Step, Task, Transform,
};
use super::problem::{JsonPath, Problems, Rule};

/// Limits that separate a mistake from a real guide. A card is read at arm's length:
/// text beyond these lengths is unreadable in a headset, and geometry beyond them is a typo in units.
pub mod limits {
    pub const TITLE_CHARS: usize = 120;
    pub const TITLE_CHARS_COMFORTABLE: usize = 80;
    pub const BODY_CHARS: usize = 4000;
    pub const BODY_CHARS_COMFORTABLE: usize = 600;
    pub const DESCRIPTION_CHARS: usize = 4000;
    pub const ID_CHARS: usize = 64;
    pub const TASKS: usize = 100;
    pub const ANCHORS: usize = 100;
    pub const STEPS: usize = 500;
    pub const HOLOGRAMS_PER_STEP: usize = 32;
    /// Metres from the anchor; a hologram further away than this cannot belong to the same machine.
    pub const TRANSLATION_M: f32 = 100.0;
    pub const SCALE_MIN: f32 = 1e-3;
    pub const SCALE_MAX: f32 = 1e3;
    /// Smallest sticker a headset camera resolves at working distance, largest that is still a sticker.
    pub const ANCHOR_SIZE_MM: (f32, f32) = (10.0, 1000.0);
    pub const QUATERNION_TOLERANCE: f32 = 1e-3;
    /// A choice's options: fewer is no choice, more do not fit a card as buttons.
    pub const CHOICE_OPTIONS: (usize, usize) = (2, 6);
    /// A text answer's `max_length`: its least, and most (and the default).
    pub const TEXT_ANSWER_CHARS: (u64, u64) = (1, 2000);
    pub const UNIT_CHARS: usize = 16;
    pub const DECIMALS: u64 = 6;
}

/// Decodes a parsed `guide.json`. Returns the guide when no *error* was found (warnings allowed).
pub fn decode(document: &Value, problems: &mut Problems) -> Option<Guide> {
    let mut decoder = Decoder {
        problems,
        ids: HashMap::new(),
        declared_anchors: Vec::new(),
        anchor_references: Vec::new(),
        step_references: Vec::new(),
        schema_version: SCHEMA_VERSION,
    };
    let guide = decoder.guide(document, &JsonPath::root());
    if decoder.problems.has_errors() {
        None
    } else {
        guide
    }
}

struct Decoder<'p> {
    problems: &'p mut Problems,
    ids: HashMap<(&'static str, String), JsonPath>,
    declared_anchors: Vec<(String, JsonPath)>,
    anchor_references: Vec<(String, JsonPath)>,
    /// Step ids named by choices' `goto`, checked once every step is known.
    step_references: Vec<(String, JsonPath)>,
    /// The document's schema version (rules differ by version).
    schema_version: u32,
}

/// Allowed keys of one JSON object; anything else is reported once as an unknown field.
struct Fields<'v> {
    object: &'v Map<String, Value>,
    path: JsonPath,
}

impl Decoder<'_> {
    fn guide(&mut self, value: &Value, path: &JsonPath) -> Option<Guide> {
        let fields = self.object(
            value,
            path,
            &[
                "schema_version",
                "id",
                "version",
                "title",
                "description",
                "organisation",
                "modified_at",
                "anchors",
                "tasks",
            ],
        )?;
        // A future schema may mean anything; stop before reporting confusing follow-on errors.
        let schema_version = self.required(&fields, "schema_version", Self::unsigned)?;
        if !(u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&schema_version)
        {
            self.problems.error(
                Rule::UnsupportedSchemaVersion,
                fields.path.key("schema_version"),
                format!(
                    "schema version {schema_version} is not supported; this build reads versions {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}"
                ),
            );
            return None;
        }
        self.schema_version = schema_version as u32;
        let id = self.required(&fields, "id", Self::uuid);
        let version = self
            .required(&fields, "version", Self::unsigned)
            .and_then(|v| {
                let path = fields.path.key("version");
                match u32::try_from(v) {
                    Ok(v) if v >= 1 => Some(v),
                    _ => {
                        self.problems.error(
                            Rule::OutOfRange,
                            path,
                            format!("version must be between 1 and {}, got {v}", u32::MAX),
                        );
                        None
                    }
                }
            });
        let title = self.required(&fields, "title", Self::title);
        let description = self
            .optional(&fields, "description", |d, v, p| {
                d.text(v, p, limits::DESCRIPTION_CHARS, None)
            })
            .unwrap_or_default();
        let organisation = self.required(&fields, "organisation", Self::organisation);
        let modified_at = self.required(&fields, "modified_at", Self::timestamp);
        let anchors = self
            .optional(&fields, "anchors", |d, v, p| {
                d.array(v, p, limits::ANCHORS, Self::anchor)
            })
            .unwrap_or_default();
        let tasks = self.required(&fields, "tasks", |d, v, p| {
            d.array(v, p, limits::TASKS, Self::task)
        });

        if has_empty_array(&fields, "tasks") {
            self.problems.error(
                Rule::Empty,
                path.key("tasks"),
                "a guide needs at least one task",
            );
        }
        if let Some(tasks) = &tasks {
            self.check_structure(tasks, path);
            self.check_flow(tasks, path);
        }
        Some(Guide {
            schema_version: self.schema_version,
            id: id?,
            version: version?,
            title: title?,
            description,
            organisation: organisation?,
            modified_at: modified_at?,
            anchors,
            tasks: tasks?,
        })
    }

    /// Rules across the whole guide: anchors that exist and are used, not too many steps.
    /// Ids are checked for uniqueness as they are decoded (`claim_id`), with their own paths.
    fn check_structure(&mut self, tasks: &[Task], path: &JsonPath) {
        let step_count: usize = tasks.iter().map(|t| t.steps.len()).sum();
        if step_count > limits::STEPS {
            self.problems.error(
                Rule::OutOfRange,
                path.key("tasks"),
                format!(
                    "{step_count} steps in all; at most {} are allowed",
                    limits::STEPS
                ),
            );
        }
        let declared = std::mem::take(&mut self.declared_anchors);
        let references = std::mem::take(&mut self.anchor_references);
        for (anchor, reference) in &references {
            if !declared.iter().any(|(id, _)| id == anchor) {
                self.problems.error(
                    Rule::UnknownAnchor,
                    reference,
                    format!("anchor '{anchor}' is not declared in $.anchors"),
                );
            }
        }
        for (id, anchor_path) in declared {
            if !references.iter().any(|(used, _)| *used == id) {
                self.problems.warning(
                    Rule::UnusedAnchor,
                    anchor_path,
                    format!("anchor '{id}' is declared but no hologram uses it"),
                );
            }
        }
    }

    /// Records an id of one kind; a second use is an error that names the first.
    fn claim_id(&mut self, kind: &'static str, id: &str, path: JsonPath) {
        match self.ids.get(&(kind, id.to_owned())) {
            Some(first) => {
                let message = format!("{kind} id '{id}' is already used at {first}");
                self.problems.error(Rule::DuplicateId, path, message);
            }
            None => {
                self.ids.insert((kind, id.to_owned()), path);
            }
        }
    }

    fn anchor(&mut self, value: &Value, path: &JsonPath) -> Option<Anchor> {
        let fields = self.object(value, path, &["id", "label", "size_mm"])?;
        let id = self.required(&fields, "id", Self::id);
        if let Some(id) = &id {
            self.claim_id("anchor", id, path.key("id"));
            self.declared_anchors.push((id.clone(), path.clone()));
        }
        let label = self
            .optional(&fields, "label", |d, v, p| {
                d.text(v, p, limits::TITLE_CHARS, None)
            })
            .unwrap_or_default();
        let size_mm = self.required(&fields, "size_mm", |d, v, p| {
            let (min, max) = limits::ANCHOR_SIZE_MM;
            d.number_in(v, p, min, max, "mm")
        });
        Some(Anchor {
            id: id?,
            label,
            size_mm: size_mm?,
        })
    }

    fn task(&mut self, value: &Value, path: &JsonPath) -> Option<Task> {
        let fields = self.object(value, path, &["id", "title", "steps"])?;
        let id = self.required(&fields, "id", Self::id);
        if let Some(id) = &id {
            self.claim_id("task", id, path.key("id"));
        }
        let title = self.required(&fields, "title", Self::title);
        let steps = self.required(&fields, "steps", |d, v, p| {
            d.array(v, p, limits::STEPS, Self::step)
        });
        if has_empty_array(&fields, "steps") {
            self.problems.error(
                Rule::Empty,
                fields.path.key("steps"),
                "a task needs at least one step",
            );
        }
        Some(Task {
            id: id?,
            title: title?,
            steps: steps?,
        })
    }

    fn step(&mut self, value: &Value, path: &JsonPath) -> Option<Step> {
        let fields = self.object(
            value,
            path,
            &["id", "title", "body", "media", "holograms", "capture"],
        )?;
        let id = self.required(&fields, "id", Self::id);
        if let Some(id) = &id {
            self.claim_id("step", id, path.key("id"));
        }
        let title = self.required(&fields, "title", Self::title);
        let body = self.required(&fields, "body", |d, v, p| {
            d.text(
                v,
                p,
                limits::BODY_CHARS,
                Some(limits::BODY_CHARS_COMFORTABLE),
            )
        });
        let media = self.optional(&fields, "media", Self::media);
        let holograms = self
            .optional(&fields, "holograms", |d, v, p| {
                d.array(v, p, limits::HOLOGRAMS_PER_STEP, Self::hologram)
            })
            .unwrap_or_default();
        let capture = self.optional(&fields, "capture", Self::capture);
        Some(Step {
            id: id?,
            title: title?,
            body: body?,
            media,
            holograms,
            capture,
        })
    }

    fn media(&mut self, value: &Value, path: &JsonPath) -> Option<Media> {
        let fields = self.object(value, path, &["path", "caption"])?;
        let file = self.required(&fields, "path", Self::string);
        let caption = self
            .optional(&fields, "caption", |d, v, p| {
                d.text(v, p, limits::TITLE_CHARS, None)
            })
            .unwrap_or_default();
        Some(Media {
            path: file?,
            caption,
        })
    }

    fn hologram(&mut self, value: &Value, path: &JsonPath) -> Option<Hologram> {
        let fields = self.object(value, path, &["asset", "anchor", "transform", "animation"])?;
        let asset = self.required(&fields, "asset", Self::string);
        let anchor = self.optional(&fields, "anchor", Self::id);
        if let Some(anchor) = &anchor {
            self.anchor_references
                .push((anchor.clone(), path.key("anchor")));
        }
        let transform = self
            .optional(&fields, "transform", Self::transform)
            .unwrap_or_default();
        let animation = self.optional(&fields, "animation", |d, v, p| {
            d.text(v, p, limits::TITLE_CHARS, None)
        });
        Some(Hologram {
            asset: asset?,
            anchor,
            transform,
            animation,
        })
    }

    fn transform(&mut self, value: &Value, path: &JsonPath) -> Option<Transform> {
        let fields = self.object(value, path, &["translation", "rotation", "scale"])?;
        let translation = self.optional(&fields, "translation", |d, v, p| {
            let t = d.floats::<3>(v, p)?;
            if t.iter().any(|c| c.abs() > limits::TRANSLATION_M) {
                d.problems.error(
                    Rule::OutOfRange,
                    p,
                    format!(
                        "translation {t:?} is more than {} m from the anchor; translations are in metres",
                        limits::TRANSLATION_M
                    ),
                );
                return None;
            }
            Some(Vec3::from_array(t))
        });
        let rotation = self.optional(&fields, "rotation", |d, v, p| {
            let q = Quat::from_array(d.floats::<4>(v, p)?);
            let length = q.length();
            if (length - 1.0).abs() > limits::QUATERNION_TOLERANCE {
                d.problems.error(
                    Rule::InvalidValue,
                    p,
                    format!(
                        "rotation must be a unit quaternion [x, y, z, w]; its length is {length}"
                    ),
                );
                return None;
            }
            Some(q.normalize())
        });
        let scale = self.optional(&fields, "scale", |d, v, p| {
            let s = d.floats::<3>(v, p)?;
            if s.iter()
                .any(|c| !(limits::SCALE_MIN..=limits::SCALE_MAX).contains(c))
            {
                d.problems.error(
                    Rule::OutOfRange,
                    p,
                    format!(
                        "scale {s:?} must be between {} and {} on every axis",
                        limits::SCALE_MIN,
                        limits::SCALE_MAX
                    ),
                );
                return None;
            }
            Some(Vec3::from_array(s))
        });
        let defaults = Transform::default();
        Some(Transform {
            translation: translation.unwrap_or(defaults.translation),
            rotation: rotation.unwrap_or(defaults.rotation),
            scale: scale.unwrap_or(defaults.scale),
        })
    }
}

/// Looks at the document, not the decoded list: elements that failed to decode are dropped
/// from the list and must not read as "empty".
fn has_empty_array(fields: &Fields<'_>, key: &str) -> bool {
    fields
        .object
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
}

mod capture;
mod fields;
pub use fields::is_valid_id;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod capture_tests;
