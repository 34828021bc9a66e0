//! QR stickers the runtime tracks itself (issue 16), polled by the frame loop next to the
//! camera's sightings: HoloLens 2's scene markers (`XR_MSFT_scene_marker`, here) where the
//! runtime offers them, else `XR_EXT_spatial_marker_tracking` (`markers_ext`), else nothing
//! (Monado: the app decodes camera frames itself).
//!
//! Nothing here waits: a scene (MSFT) or a discovery snapshot (EXT) is asked for at most every
//! half second (`PERIOD_NS`), and its state is checked once a frame until it is ready. Each
//! marker read becomes a [`RuntimeMarker`], then, when the runtime saw it anew ([`Freshness`]),
//! the [`Sighting`] the app driver takes from a camera. Any failed call turns the path off for
//! the rest of the session, logged once: markers are an aid, never a reason to end a session.

use std::ffi::c_void;
use std::fmt;
use std::ptr;
use std::time::Duration;

use glam::Vec2;
use openxr as xr;
use openxr::sys;
use openxr::sys::Handle;

use super::draw::to_pose;
use super::instance::{Context, SCENE_MARKERS, SPATIAL_MARKERS};
use super::markers_ext::SpatialMarkers;
use super::markers_ffi::{
    NewSceneComputeInfoMSFT, SceneBoundsMSFT, SceneComponentLocationMSFT,
    SceneComponentLocationsMSFT, SceneComponentMSFT, SceneComponentsGetInfoMSFT,
    SceneComponentsLocateInfoMSFT, SceneComponentsMSFT, SceneCreateInfoMSFT, SceneMarkerFns,
    SceneMarkerMSFT, SceneMarkerQRCodeMSFT, SceneMarkerQRCodesMSFT, SceneMarkersMSFT,
    SceneObserverCreateInfoMSFT, SceneSphereBoundMSFT, UuidMSFT,
};
use crate::camera::Sighting;
use crate::camera::runtime_marker::{self, Freshness, RuntimeMarker, Symbology};
use crate::scene::Pose;

/// A new scene or discovery snapshot at most this often: the runtime's tracker runs on its own,
/// this is only how often its answers are read.
pub(super) const PERIOD_NS: i64 = 500_000_000;
/// Markers are looked for within this distance of the head (a scene holds nothing outside
/// its bounds); a QR sticker is read from a metre or two.
const SCENE_RADIUS_M: f32 = 5.0;
/// Markers read from one scene or snapshot at most (a runtime answering more is misbehaving).
pub(super) const MAX_MARKERS: usize = 256;
/// Payload bytes read at most: a version 40 QR code holds 2,953.
pub(super) const MAX_PAYLOAD: usize = 4096;

/// A call into the runtime that failed: the path that made it is turned off.
#[derive(Debug)]
pub(super) struct Failed {
    pub(super) call: &'static str,
    pub(super) result: sys::Result,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.call, self.result)
    }
}

/// `result` when it is a success code, else the failed call.
pub(super) fn check(call: &'static str, result: sys::Result) -> Result<(), Failed> {
    if result.into_raw() < 0 {
        Err(Failed { call, result })
    } else {
        Ok(())
    }
}

/// An `XrTime` on the runtime's clock as a duration since its epoch.
pub(super) fn since_epoch(time: sys::Time) -> Duration {
    Duration::from_nanos(u64::try_from(time.as_nanos()).unwrap_or(0))
}

/// One marker a tracker read: a key that tells markers apart, when the runtime last saw it
/// (where it says), and the marker.
pub(super) struct Read {
    pub(super) id: u128,
    pub(super) last_seen: Option<Duration>,
    pub(super) marker: RuntimeMarker,
}

enum Tracker {
    Scene(SceneMarkers),
    Spatial(SpatialMarkers),
}

/// The session's marker tracker, if the runtime has one. Lives inside the session it was
/// started on and is dropped before it.
pub struct Markers {
    tracker: Option<Tracker>,
    /// Set at the first poll: markers last seen before it are old news.
    fresh: Option<Freshness>,
}

impl Markers {
    /// The tracker the runtime offers for `session` (a session of `context`'s instance), or
    /// none; a path that cannot start is logged and left off.
    pub(super) fn start(context: &Context, session: sys::Session) -> Self {
        let enabled = |names: &[&str]| {
            names
                .iter()
                .all(|name| context.enabled_names.iter().any(|e| e == name))
        };
        let started = |path: &str, tracker: Result<Option<Tracker>, Failed>| match tracker {
            Ok(Some(tracker)) => {
                tracing::info!("QR stickers are tracked by the runtime ({path})");
                Some(tracker)
            }
            Ok(None) => None,
            Err(failed) => {
                tracing::warn!("the runtime's QR tracking ({path}) cannot start: {failed}");
                None
            }
        };
        let (instance, system) = (&context.instance, context.system);
        let mut tracker = None;
        if enabled(&SCENE_MARKERS) {
            let scene = SceneMarkers::start(instance, system, session);
            tracker = started("XR_MSFT_scene_marker", scene.map(|s| s.map(Tracker::Scene)));
        }
        if tracker.is_none() && enabled(&SPATIAL_MARKERS) {
            let spatial = SpatialMarkers::start(instance, system, session);
            tracker = started(
                "XR_EXT_spatial_marker_tracking",
                spatial.map(|s| s.map(Tracker::Spatial)),
            );
        }
        Self {
            tracker,
            fresh: None,
        }
    }

    /// Whether the runtime's tracker runs (or is starting).
    pub(super) fn is_on(&self) -> bool {
        self.tracker.is_some()
    }

    /// The stickers the runtime saw anew, located in `space` at `time` and seen from `head`
    /// (the head's pose in `space`); never waits.
    pub(super) fn poll(&mut self, space: &xr::Space, time: xr::Time, head: Pose) -> Vec<Sighting> {
        let Some(tracker) = self.tracker.as_mut() else {
            return Vec::new();
        };
        let read = match tracker {
            Tracker::Scene(scene) => scene.poll(space.as_raw(), time, head),
            Tracker::Spatial(spatial) => spatial.poll(space.as_raw(), time),
        };
        let read = match read {
            Ok(read) => read,
            Err(failed) => {
                tracing::warn!(
                    "the runtime's QR tracking is off for this session: {failed}; stickers are no longer tracked"
                );
                self.tracker = None;
                return Vec::new();
            }
        };
        let fresh = self
            .fresh
            .get_or_insert_with(|| Freshness::new(since_epoch(time)));
        read.into_iter()
            .filter_map(|read| {
                let sighting = runtime_marker::sighting(&read.marker, head)?;
                let pose = sighting.located?;
                fresh
                    .is_fresh(read.id, read.last_seen, pose)
                    .then_some(sighting)
            })
            .collect()
    }
}

/// `XR_MSFT_scene_marker`: a scene observer computing scenes with the marker feature.
struct SceneMarkers {
    fns: SceneMarkerFns,
    observer: sys::SceneObserverMSFT,
    computing: bool,
    /// When the last scene was asked for (runtime clock, ns).
    asked_at: Option<i64>,
}

impl SceneMarkers {
    /// An observer on `session`, if the system computes markers.
    fn start(
        instance: &xr::Instance,
        system: xr::SystemId,
        session: sys::Session,
    ) -> Result<Option<Self>, Failed> {
        let fns = SceneMarkerFns::load(instance).map_err(|result| Failed {
            call: "xrGetInstanceProcAddr (XR_MSFT_scene_marker)",
            result,
        })?;
        let call = "xrEnumerateSceneComputeFeaturesMSFT";
        let mut count = 0u32;
        // SAFETY: a live instance and its system; capacity 0 with a null array asks the count.
        let result = unsafe {
            (fns.enumerate_scene_compute_features)(
                instance.as_raw(),
                system,
                0,
                &mut count,
                ptr::null_mut(),
            )
        };
        check(call, result)?;
        let mut features = vec![sys::SceneComputeFeatureMSFT::from_raw(0); count as usize];
        // SAFETY: `features` holds `count` elements, the capacity passed.
        let result = unsafe {
            (fns.enumerate_scene_compute_features)(
                instance.as_raw(),
                system,
                count,
                &mut count,
                features.as_mut_ptr(),
            )
        };
        check(call, result)?;
        features.truncate(count as usize);
        if !features.contains(&sys::SceneComputeFeatureMSFT::MARKER) {
            tracing::info!("the runtime offers scene markers but computes none on this system");
            return Ok(None);
        }
        let info = SceneObserverCreateInfoMSFT {
            ty: sys::StructureType::SCENE_OBSERVER_CREATE_INFO_MSFT,
            next: ptr::null(),
        };
        let mut observer = sys::SceneObserverMSFT::NULL;
        // SAFETY: a live session of the instance the functions came from; `info` and
        // `observer` are valid for the call.
        let result = unsafe { (fns.create_scene_observer)(session, &info, &mut observer) };
        check("xrCreateSceneObserverMSFT", result)?;
        Ok(Some(Self {
            fns,
            observer,
            computing: false,
            asked_at: None,
        }))
    }

    /// The markers of a scene that finished computing since the last poll; asks for the next
    /// scene when it is due.
    fn poll(&mut self, space: sys::Space, time: xr::Time, head: Pose) -> Result<Vec<Read>, Failed> {
        if self.computing {
            let mut state = sys::SceneComputeStateMSFT::NONE;
            // SAFETY: the observer is live (destroyed only on drop); `state` is a valid place.
            let result = unsafe { (self.fns.get_scene_compute_state)(self.observer, &mut state) };
            check("xrGetSceneComputeStateMSFT", result)?;
            match state {
                sys::SceneComputeStateMSFT::COMPLETED => {
                    self.computing = false;
                    return self.read_scene(space, time);
                }
                sys::SceneComputeStateMSFT::COMPLETED_WITH_ERROR => {
                    tracing::debug!("a scene of markers ended with an error; asking again");
                    self.computing = false;
                }
                _ => return Ok(Vec::new()),
            }
        }
        let now = time.as_nanos();
        if self.asked_at.is_some_and(|at| now - at < PERIOD_NS) {
            return Ok(Vec::new());
        }
        let features = [sys::SceneComputeFeatureMSFT::MARKER];
        let around_head = SceneSphereBoundMSFT {
            center: sys::Vector3f {
                x: head.position.x,
                y: head.position.y,
                z: head.position.z,
            },
            radius: SCENE_RADIUS_M,
        };
        let info = NewSceneComputeInfoMSFT {
            ty: sys::StructureType::NEW_SCENE_COMPUTE_INFO_MSFT,
            next: ptr::null(),
            requested_feature_count: features.len() as u32,
            requested_features: features.as_ptr(),
            consistency: sys::SceneComputeConsistencyMSFT::SNAPSHOT_INCOMPLETE_FAST,
            bounds: SceneBoundsMSFT {
                space,
                time,
                sphere_count: 1,
                spheres: &around_head,
                box_count: 0,
                boxes: ptr::null(),
                frustum_count: 0,
                frustums: ptr::null(),
            },
        };
        // SAFETY: the observer is live; `info` and the arrays it points at outlive the call
        // (the runtime copies what it needs before returning).
        let result = unsafe { (self.fns.compute_new_scene)(self.observer, &info) };
        check("xrComputeNewSceneMSFT", result)?;
        self.computing = true;
        self.asked_at = Some(now);
        Ok(Vec::new())
    }

    /// The finished scene's markers: components, their QR properties and payloads, located in
    /// `space` at `time`. The scene is destroyed before returning.
    fn read_scene(&self, space: sys::Space, time: xr::Time) -> Result<Vec<Read>, Failed> {
        let info = SceneCreateInfoMSFT {
            ty: sys::StructureType::SCENE_CREATE_INFO_MSFT,
            next: ptr::null(),
        };
        let mut handle = sys::SceneMSFT::NULL;
        // SAFETY: the observer is live and finished computing; `info` and `handle` are valid.
        let result = unsafe { (self.fns.create_scene)(self.observer, &info, &mut handle) };
        check("xrCreateSceneMSFT", result)?;
        let scene = Scene {
            fns: self.fns,
            handle,
        };
        let found = scene.markers()?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<UuidMSFT> = found.iter().map(|f| f.id).collect();
        let locations = scene.locate(&ids, space, time)?;
        let mut read = Vec::with_capacity(found.len());
        for (found, location) in found.into_iter().zip(locations) {
            let valid = sys::SpaceLocationFlags::POSITION_VALID
                | sys::SpaceLocationFlags::ORIENTATION_VALID;
            if !location.flags.contains(valid) {
                continue;
            }
            let payload = scene.raw_data(&found.id)?;
            read.push(Read {
                id: u128::from_le_bytes(found.id.bytes),
                last_seen: Some(since_epoch(found.marker.last_seen_time)),
                marker: RuntimeMarker {
                    payload,
                    pose: to_pose(location.pose),
                    centre: Vec2::new(found.marker.center.x, found.marker.center.y),
                    size: Some(Vec2::new(found.marker.size.width, found.marker.size.height)),
                    last_seen: since_epoch(found.marker.last_seen_time),
                    symbology: found.symbology,
                },
            });
        }
        Ok(read)
    }
}

impl Drop for SceneMarkers {
    fn drop(&mut self) {
        // SAFETY: the observer was created by this tracker and is destroyed once, here, while
        // its session is still alive (the tracker is dropped before the session).
        let result = unsafe { (self.fns.destroy_scene_observer)(self.observer) };
        if let Err(failed) = check("xrDestroySceneObserverMSFT", result) {
            tracing::debug!("{failed}");
        }
    }
}

/// A marker component of a scene, before it is located.
struct Found {
    id: UuidMSFT,
    marker: SceneMarkerMSFT,
    symbology: Symbology,
}

/// A computed scene, destroyed when dropped.
struct Scene {
    fns: SceneMarkerFns,
    handle: sys::SceneMSFT,
}

impl Scene {
    /// The QR markers of the scene, with `XrSceneMarkersMSFT` and `XrSceneMarkerQRCodesMSFT`
    /// chained to the components (two-call idiom).
    fn markers(&self) -> Result<Vec<Found>, Failed> {
        let call = "xrGetSceneComponentsMSFT";
        let info = SceneComponentsGetInfoMSFT {
            ty: sys::StructureType::SCENE_COMPONENTS_GET_INFO_MSFT,
            next: ptr::null(),
            component_type: sys::SceneComponentTypeMSFT::MARKER,
        };
        let mut components = SceneComponentsMSFT {
            ty: sys::StructureType::SCENE_COMPONENTS_MSFT,
            next: ptr::null_mut(),
            component_capacity_input: 0,
            component_count_output: 0,
            components: ptr::null_mut(),
        };
        // SAFETY: a live scene; capacity 0 with a null array asks the count.
        let result =
            unsafe { (self.fns.get_scene_components)(self.handle, &info, &mut components) };
        check(call, result)?;
        let count = components.component_count_output as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_MARKERS {
            tracing::debug!("a scene with {count} markers; reading none of them");
            return Ok(Vec::new());
        }
        let mut list = vec![
            SceneComponentMSFT {
                component_type: sys::SceneComponentTypeMSFT::INVALID,
                id: UuidMSFT::default(),
                parent_id: UuidMSFT::default(),
                update_time: sys::Time::from_nanos(0),
            };
            count
        ];
        let mut markers = vec![
            SceneMarkerMSFT {
                marker_type: sys::SceneMarkerTypeMSFT::from_raw(0),
                last_seen_time: sys::Time::from_nanos(0),
                center: sys::Offset2Df { x: 0.0, y: 0.0 },
                size: sys::Extent2Df {
                    width: 0.0,
                    height: 0.0,
                },
            };
            count
        ];
        let mut codes = vec![
            SceneMarkerQRCodeMSFT {
                symbol_type: sys::SceneMarkerQRCodeSymbolTypeMSFT::from_raw(0),
                version: 0,
            };
            count
        ];
        let mut qr_codes = SceneMarkerQRCodesMSFT {
            ty: sys::StructureType::SCENE_MARKER_QR_CODES_MSFT,
            next: ptr::null(),
            qr_code_capacity_input: count as u32,
            qr_codes: codes.as_mut_ptr(),
        };
        let mut scene_markers = SceneMarkersMSFT {
            ty: sys::StructureType::SCENE_MARKERS_MSFT,
            next: ptr::from_mut(&mut qr_codes).cast::<c_void>(),
            scene_marker_capacity_input: count as u32,
            scene_markers: markers.as_mut_ptr(),
        };
        components.next = ptr::from_mut(&mut scene_markers).cast::<c_void>();
        components.component_capacity_input = count as u32;
        components.components = list.as_mut_ptr();
        // SAFETY: every array holds `count` elements, the capacity each struct states; the
        // chained structs live until after the call.
        let result =
            unsafe { (self.fns.get_scene_components)(self.handle, &info, &mut components) };
        check(call, result)?;
        let count = (components.component_count_output as usize).min(count);
        Ok((0..count)
            .filter(|&i| markers[i].marker_type == sys::SceneMarkerTypeMSFT::QR_CODE)
            .map(|i| Found {
                id: list[i].id,
                marker: markers[i],
                symbology: match codes[i].symbol_type {
                    sys::SceneMarkerQRCodeSymbolTypeMSFT::QR_CODE => Symbology::Qr,
                    sys::SceneMarkerQRCodeSymbolTypeMSFT::MICRO_QR_CODE => Symbology::MicroQr,
                    _ => Symbology::Other,
                },
            })
            .collect())
    }

    /// Where each component is in `space` at `time`.
    fn locate(
        &self,
        ids: &[UuidMSFT],
        space: sys::Space,
        time: xr::Time,
    ) -> Result<Vec<SceneComponentLocationMSFT>, Failed> {
        let info = SceneComponentsLocateInfoMSFT {
            ty: sys::StructureType::SCENE_COMPONENTS_LOCATE_INFO_MSFT,
            next: ptr::null(),
            base_space: space,
            time,
            component_id_count: ids.len() as u32,
            component_ids: ids.as_ptr(),
        };
        let mut locations = vec![
            SceneComponentLocationMSFT {
                flags: sys::SpaceLocationFlags::EMPTY,
                pose: sys::Posef::IDENTITY,
            };
            ids.len()
        ];
        let mut out = SceneComponentLocationsMSFT {
            ty: sys::StructureType::SCENE_COMPONENT_LOCATIONS_MSFT,
            next: ptr::null_mut(),
            location_count: locations.len() as u32,
            locations: locations.as_mut_ptr(),
        };
        // SAFETY: a live scene and space; `locations` holds as many elements as ids asked.
        let result = unsafe { (self.fns.locate_scene_components)(self.handle, &info, &mut out) };
        check("xrLocateSceneComponentsMSFT", result)?;
        Ok(locations)
    }

    /// A marker's payload bytes (two-call idiom); empty past [`MAX_PAYLOAD`].
    fn raw_data(&self, id: &UuidMSFT) -> Result<Vec<u8>, Failed> {
        let call = "xrGetSceneMarkerRawDataMSFT";
        let mut count = 0u32;
        // SAFETY: a live scene and a marker id it gave; capacity 0 asks the size.
        let result = unsafe {
            (self.fns.get_scene_marker_raw_data)(self.handle, id, 0, &mut count, ptr::null_mut())
        };
        check(call, result)?;
        if count as usize > MAX_PAYLOAD {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0u8; count as usize];
        // SAFETY: `bytes` holds `count` bytes, the capacity passed.
        let result = unsafe {
            (self.fns.get_scene_marker_raw_data)(
                self.handle,
                id,
                count,
                &mut count,
                bytes.as_mut_ptr(),
            )
        };
        check(call, result)?;
        bytes.truncate(count as usize);
        Ok(bytes)
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        // SAFETY: the scene was created by its observer's tracker and is destroyed once, here.
        let result = unsafe { (self.fns.destroy_scene)(self.handle) };
        if let Err(failed) = check("xrDestroySceneMSFT", result) {
            tracing::debug!("{failed}");
        }
    }
}
