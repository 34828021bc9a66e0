//! The action set: select / next / back / menu and the aim pose, suggested for every
//! interaction profile the runtime can take (simple controller, Oculus Touch, Valve Index, and
//! the hand-interaction profiles when their extension is enabled). The runtime picks the one
//! matching what the user holds; a select aimed at a card button presses it.

use glam::{Quat, Vec3};
use openxr as xr;

use super::XrError;
use crate::app::Intent;
use crate::app::pointer::{Pinch, Ray};
use crate::app::script::Command;

pub struct Input {
    set: xr::ActionSet,
    select: xr::Action<bool>,
    next: xr::Action<bool>,
    back: xr::Action<bool>,
    menu: xr::Action<bool>,
    aim: xr::Action<xr::Posef>,
    aim_space: xr::Space,
    /// XR_EXT_hand_tracking on the right hand, where the system tracks hands.
    hand: Option<xr::HandTracker>,
    pinch: Pinch,
    /// Profiles whose suggested bindings the runtime accepted.
    pub profiles: Vec<String>,
}

/// What the controllers did since the last frame.
#[derive(Debug, Default)]
pub struct Polled {
    pub commands: Vec<Command>,
    /// Select pressed this frame (acts on what the aim ray points at).
    pub select: bool,
    pub aim: Option<Ray>,
    /// Where a tracked hand's pinch is (between thumb and index tips), when tracked.
    pub pinch_point: Option<Vec3>,
}

type Bindings = &'static [(&'static str, &'static str)];

/// (profile, extension it needs or "" for core, [(action, input path)]).
const PROFILES: [(&str, &str, Bindings); 5] = [
    (
        "/interaction_profiles/khr/simple_controller",
        "",
        &[
            ("select", "/user/hand/right/input/select/click"),
            ("menu", "/user/hand/left/input/menu/click"),
            ("aim", "/user/hand/right/input/aim/pose"),
        ],
    ),
    (
        "/interaction_profiles/oculus/touch_controller",
        "",
        &[
            ("select", "/user/hand/right/input/trigger/value"),
            ("next", "/user/hand/right/input/a/click"),
            ("back", "/user/hand/right/input/b/click"),
            ("menu", "/user/hand/left/input/menu/click"),
            ("aim", "/user/hand/right/input/aim/pose"),
        ],
    ),
    (
        "/interaction_profiles/valve/index_controller",
        "",
        &[
            ("select", "/user/hand/right/input/trigger/click"),
            ("next", "/user/hand/right/input/a/click"),
            ("back", "/user/hand/right/input/b/click"),
            ("menu", "/user/hand/left/input/b/click"),
            ("aim", "/user/hand/right/input/aim/pose"),
        ],
    ),
    (
        "/interaction_profiles/microsoft/hand_interaction",
        "XR_MSFT_hand_interaction",
        &[
            ("select", "/user/hand/right/input/select/value"),
            ("aim", "/user/hand/right/input/aim/pose"),
        ],
    ),
    (
        "/interaction_profiles/ext/hand_interaction_ext",
        "XR_EXT_hand_interaction",
        &[
            ("select", "/user/hand/right/input/pinch_ext/value"),
            ("aim", "/user/hand/right/input/aim/pose"),
        ],
    ),
];

fn call<T>(name: &'static str, result: xr::Result<T>) -> Result<T, XrError> {
    result.map_err(|e| XrError::call(name, e))
}

impl Input {
    pub fn new<G: xr::Graphics>(
        instance: &xr::Instance,
        system: xr::SystemId,
        session: &xr::Session<G>,
        enabled_extensions: &[String],
    ) -> Result<Self, XrError> {
        let set = call(
            "xrCreateActionSet",
            instance.create_action_set("hologuide", "hologuide", 0),
        )?;
        let select = call(
            "xrCreateAction",
            set.create_action::<bool>("select", "Select", &[]),
        )?;
        let next = call(
            "xrCreateAction",
            set.create_action::<bool>("next", "Next step", &[]),
        )?;
        let back = call(
            "xrCreateAction",
            set.create_action::<bool>("back", "Previous step", &[]),
        )?;
        let menu = call(
            "xrCreateAction",
            set.create_action::<bool>("menu", "All guides", &[]),
        )?;
        let aim = call(
            "xrCreateAction",
            set.create_action::<xr::Posef>("aim", "Aim", &[]),
        )?;
        let mut profiles = Vec::new();
        for (profile, extension, bindings) in PROFILES {
            if !extension.is_empty() && !enabled_extensions.iter().any(|e| e == extension) {
                continue;
            }
            let suggested = (|| -> xr::Result<()> {
                let profile_path = instance.string_to_path(profile)?;
                let mut list = Vec::new();
                for (action, input) in bindings {
                    let path = instance.string_to_path(input)?;
                    list.push(match *action {
                        "select" => xr::Binding::new(&select, path),
                        "next" => xr::Binding::new(&next, path),
                        "back" => xr::Binding::new(&back, path),
                        "menu" => xr::Binding::new(&menu, path),
                        _ => xr::Binding::new(&aim, path),
                    });
                }
                instance.suggest_interaction_profile_bindings(profile_path, &list)
            })();
            match suggested {
                Ok(()) => profiles.push(profile.to_owned()),
                Err(e) => tracing::warn!("input profile {profile} refused by the runtime: {e}"),
            }
        }
        call(
            "xrAttachSessionActionSets",
            session.attach_action_sets(&[&set]),
        )?;
        let aim_space = call(
            "xrCreateActionSpace",
            aim.create_space(session, xr::Path::NULL, xr::Posef::IDENTITY),
        )?;
        tracing::info!(profiles = ?profiles, "input bindings suggested");
        let hand_tracking = enabled_extensions
            .iter()
            .any(|e| e == "XR_EXT_hand_tracking")
            && instance.supports_hand_tracking(system).unwrap_or(false);
        let hand = if hand_tracking {
            match session.create_hand_tracker(xr::Hand::RIGHT) {
                Ok(tracker) => Some(tracker),
                Err(e) => {
                    tracing::warn!("hand tracking offered but unavailable: {e}");
                    None
                }
            }
        } else {
            None
        };
        tracing::info!(hand_tracking = hand.is_some(), "pinch to select");
        Ok(Self {
            hand,
            pinch: Pinch::default(),
            set,
            select,
            next,
            back,
            menu,
            aim,
            aim_space,
            profiles,
        })
    }

    /// The interaction profile the runtime picked for each hand ("/user/hand/right:
    /// /interaction_profiles/khr/simple_controller"); asked again on every profile change.
    pub fn current_profiles<G: xr::Graphics>(
        &self,
        instance: &xr::Instance,
        session: &xr::Session<G>,
    ) -> Result<Vec<String>, XrError> {
        let mut profiles = Vec::new();
        for hand in ["/user/hand/left", "/user/hand/right"] {
            let path = call("xrStringToPath", instance.string_to_path(hand))?;
            let profile = call(
                "xrGetCurrentInteractionProfile",
                session.current_interaction_profile(path),
            )?;
            if profile != xr::Path::NULL {
                let name = call("xrPathToString", instance.path_to_string(profile))?;
                profiles.push(format!("{hand}: {name}"));
            }
        }
        Ok(profiles)
    }

    /// Whether a hand tracker runs (pinch selects).
    pub fn hand_tracking(&self) -> bool {
        self.hand.is_some()
    }

    /// Syncs the actions (only a focused session gets input) and reads this frame's presses.
    pub fn poll<G: xr::Graphics>(
        &mut self,
        session: &xr::Session<G>,
        space: &xr::Space,
        time: xr::Time,
    ) -> Result<Polled, XrError> {
        call(
            "xrSyncActions",
            session.sync_actions(&[xr::ActiveActionSet::new(&self.set)]),
        )?;
        let pressed = |action: &xr::Action<bool>| -> Result<bool, XrError> {
            let state = call(
                "xrGetActionStateBoolean",
                action.state(session, xr::Path::NULL),
            )?;
            Ok(state.is_active && state.changed_since_last_sync && state.current_state)
        };
        let mut polled = Polled {
            select: pressed(&self.select)?,
            ..Polled::default()
        };
        if pressed(&self.next)? {
            polled.commands.push(Command::Intent(Intent::Next));
        }
        if pressed(&self.back)? {
            polled.commands.push(Command::Intent(Intent::Back));
        }
        if pressed(&self.menu)? {
            polled.commands.push(Command::Menu);
        }
        if call(
            "xrGetActionStatePose",
            self.aim.is_active(session, xr::Path::NULL),
        )? {
            let location = call("xrLocateSpace", self.aim_space.locate(space, time))?;
            let valid =
                xr::SpaceLocationFlags::POSITION_VALID | xr::SpaceLocationFlags::ORIENTATION_VALID;
            if location.location_flags.contains(valid) {
                let (position, orientation) = pose(location.pose);
                polled.aim = Some(Ray {
                    origin: position,
                    direction: orientation * Vec3::NEG_Z,
                });
            }
        }
        if let Some(hand) = &self.hand {
            let joints = call(
                "xrLocateHandJointsEXT",
                space.locate_hand_joints(hand, time),
            )?;
            let tip = |joint: xr::HandJoint| {
                joints.as_ref().and_then(|j| {
                    let location = j.get(joint.into_raw() as usize)?;
                    location
                        .location_flags
                        .contains(xr::SpaceLocationFlags::POSITION_VALID)
                        .then(|| pose(location.pose).0)
                })
            };
            let tips = tip(xr::HandJoint::THUMB_TIP).zip(tip(xr::HandJoint::INDEX_TIP));
            if self
                .pinch
                .update(tips.map(|(thumb, index)| thumb.distance(index)))
            {
                polled.select = true;
            }
            polled.pinch_point = tips.map(|(thumb, index)| (thumb + index) / 2.0);
        }
        Ok(polled)
    }
}

/// An OpenXR pose as glam values.
pub fn pose(pose: xr::Posef) -> (Vec3, Quat) {
    let p = pose.position;
    let o = pose.orientation;
    (
        Vec3::new(p.x, p.y, p.z),
        Quat::from_xyzw(o.x, o.y, o.z, o.w).normalize(),
    )
}
