//! `XR_MSFT_scene_understanding` and `XR_MSFT_scene_marker` as the OpenXR headers declare them
//! (openxr.h, registry revision 2 and 1): openxr-sys 0.14 has their handles, enums and structure
//! types but none of their structs or functions. Only what the scene-marker path uses is
//! declared, field for field; sizes and padded offsets are checked below against the C layout
//! of the header on 64-bit targets. Functions are loaded through `xrGetInstanceProcAddr`, only when both
//! extensions were enabled.

use std::ffi::{CStr, c_void};

use openxr as xr;
use openxr::sys;

/// `XrUuidMSFT`: a scene component's id.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UuidMSFT {
    pub bytes: [u8; 16],
}

/// `XrSceneObserverCreateInfoMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneObserverCreateInfoMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
}

/// `XrSceneCreateInfoMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneCreateInfoMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
}

/// `XrSceneSphereBoundMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneSphereBoundMSFT {
    pub center: sys::Vector3f,
    pub radius: f32,
}

/// `XrSceneOrientedBoxBoundMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneOrientedBoxBoundMSFT {
    pub pose: sys::Posef,
    pub extents: sys::Vector3f,
}

/// `XrSceneFrustumBoundMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneFrustumBoundMSFT {
    pub pose: sys::Posef,
    pub fov: sys::Fovf,
    pub far_distance: f32,
}

/// `XrSceneBoundsMSFT`: with no volume at all, a computed scene holds nothing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneBoundsMSFT {
    pub space: sys::Space,
    pub time: sys::Time,
    pub sphere_count: u32,
    pub spheres: *const SceneSphereBoundMSFT,
    pub box_count: u32,
    pub boxes: *const SceneOrientedBoxBoundMSFT,
    pub frustum_count: u32,
    pub frustums: *const SceneFrustumBoundMSFT,
}

/// `XrNewSceneComputeInfoMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NewSceneComputeInfoMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
    pub requested_feature_count: u32,
    pub requested_features: *const sys::SceneComputeFeatureMSFT,
    pub consistency: sys::SceneComputeConsistencyMSFT,
    pub bounds: SceneBoundsMSFT,
}

/// `XrSceneComponentMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentMSFT {
    pub component_type: sys::SceneComponentTypeMSFT,
    pub id: UuidMSFT,
    pub parent_id: UuidMSFT,
    pub update_time: sys::Time,
}

/// `XrSceneComponentsMSFT` (two-call idiom on `components`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentsMSFT {
    pub ty: sys::StructureType,
    pub next: *mut c_void,
    pub component_capacity_input: u32,
    pub component_count_output: u32,
    pub components: *mut SceneComponentMSFT,
}

/// `XrSceneComponentsGetInfoMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentsGetInfoMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
    pub component_type: sys::SceneComponentTypeMSFT,
}

/// `XrSceneComponentLocationMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentLocationMSFT {
    pub flags: sys::SpaceLocationFlags,
    pub pose: sys::Posef,
}

/// `XrSceneComponentLocationsMSFT`: `location_count` at least the ids asked for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentLocationsMSFT {
    pub ty: sys::StructureType,
    pub next: *mut c_void,
    pub location_count: u32,
    pub locations: *mut SceneComponentLocationMSFT,
}

/// `XrSceneComponentsLocateInfoMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneComponentsLocateInfoMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
    pub base_space: sys::Space,
    pub time: sys::Time,
    pub component_id_count: u32,
    pub component_ids: *const UuidMSFT,
}

/// `XrSceneMarkerMSFT`: `center` and `size` are the marker's bounding box in the XY plane of
/// the marker's own pose, metres.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneMarkerMSFT {
    pub marker_type: sys::SceneMarkerTypeMSFT,
    pub last_seen_time: sys::Time,
    pub center: sys::Offset2Df,
    pub size: sys::Extent2Df,
}

/// `XrSceneMarkersMSFT`, chained to [`SceneComponentsMSFT`] (the header's `next` is const).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneMarkersMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
    pub scene_marker_capacity_input: u32,
    pub scene_markers: *mut SceneMarkerMSFT,
}

/// `XrSceneMarkerQRCodeMSFT`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneMarkerQRCodeMSFT {
    pub symbol_type: sys::SceneMarkerQRCodeSymbolTypeMSFT,
    pub version: u8,
}

/// `XrSceneMarkerQRCodesMSFT`, chained to [`SceneComponentsMSFT`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SceneMarkerQRCodesMSFT {
    pub ty: sys::StructureType,
    pub next: *const c_void,
    pub qr_code_capacity_input: u32,
    pub qr_codes: *mut SceneMarkerQRCodeMSFT,
}

// The header's layout on 64-bit targets (pointers and XrTime 8 bytes, enums 4).
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<UuidMSFT>() == 16);
    assert!(size_of::<SceneObserverCreateInfoMSFT>() == 16);
    assert!(size_of::<SceneCreateInfoMSFT>() == 16);
    assert!(size_of::<SceneSphereBoundMSFT>() == 16);
    assert!(size_of::<SceneOrientedBoxBoundMSFT>() == 40);
    assert!(size_of::<SceneFrustumBoundMSFT>() == 48);
    assert!(size_of::<SceneBoundsMSFT>() == 64);
    assert!(size_of::<NewSceneComputeInfoMSFT>() == 104);
    assert!(size_of::<SceneComponentMSFT>() == 48);
    assert!(size_of::<SceneComponentsMSFT>() == 32);
    assert!(size_of::<SceneComponentsGetInfoMSFT>() == 24);
    assert!(size_of::<SceneComponentLocationMSFT>() == 40);
    assert!(size_of::<SceneComponentLocationsMSFT>() == 32);
    assert!(size_of::<SceneComponentsLocateInfoMSFT>() == 48);
    assert!(size_of::<SceneMarkerMSFT>() == 32);
    assert!(size_of::<SceneMarkersMSFT>() == 32);
    assert!(size_of::<SceneMarkerQRCodeMSFT>() == 8);
    assert!(size_of::<SceneMarkerQRCodesMSFT>() == 32);
    // Where padding falls: after a 4-byte member followed by an 8-byte one.
    assert!(offset_of!(NewSceneComputeInfoMSFT, requested_features) == 24);
    assert!(offset_of!(NewSceneComputeInfoMSFT, bounds) == 40);
    assert!(offset_of!(SceneBoundsMSFT, frustums) == 56);
    assert!(offset_of!(SceneComponentMSFT, update_time) == 40);
    assert!(offset_of!(SceneComponentLocationMSFT, pose) == 8);
    assert!(offset_of!(SceneComponentsLocateInfoMSFT, component_ids) == 40);
    assert!(offset_of!(SceneMarkerMSFT, last_seen_time) == 8);
    assert!(offset_of!(SceneMarkerMSFT, size) == 24);
    assert!(offset_of!(SceneMarkerQRCodeMSFT, version) == 4);
};

/// The functions' types, `PFN_xr…` of the header.
pub mod pfn {
    use super::*;

    pub type EnumerateSceneComputeFeaturesMSFT = unsafe extern "system" fn(
        instance: sys::Instance,
        system_id: sys::SystemId,
        feature_capacity_input: u32,
        feature_count_output: *mut u32,
        features: *mut sys::SceneComputeFeatureMSFT,
    ) -> sys::Result;
    pub type CreateSceneObserverMSFT = unsafe extern "system" fn(
        session: sys::Session,
        create_info: *const SceneObserverCreateInfoMSFT,
        scene_observer: *mut sys::SceneObserverMSFT,
    ) -> sys::Result;
    pub type DestroySceneObserverMSFT =
        unsafe extern "system" fn(scene_observer: sys::SceneObserverMSFT) -> sys::Result;
    pub type CreateSceneMSFT = unsafe extern "system" fn(
        scene_observer: sys::SceneObserverMSFT,
        create_info: *const SceneCreateInfoMSFT,
        scene: *mut sys::SceneMSFT,
    ) -> sys::Result;
    pub type DestroySceneMSFT = unsafe extern "system" fn(scene: sys::SceneMSFT) -> sys::Result;
    pub type ComputeNewSceneMSFT = unsafe extern "system" fn(
        scene_observer: sys::SceneObserverMSFT,
        compute_info: *const NewSceneComputeInfoMSFT,
    ) -> sys::Result;
    pub type GetSceneComputeStateMSFT = unsafe extern "system" fn(
        scene_observer: sys::SceneObserverMSFT,
        state: *mut sys::SceneComputeStateMSFT,
    ) -> sys::Result;
    pub type GetSceneComponentsMSFT = unsafe extern "system" fn(
        scene: sys::SceneMSFT,
        get_info: *const SceneComponentsGetInfoMSFT,
        components: *mut SceneComponentsMSFT,
    ) -> sys::Result;
    pub type LocateSceneComponentsMSFT = unsafe extern "system" fn(
        scene: sys::SceneMSFT,
        locate_info: *const SceneComponentsLocateInfoMSFT,
        locations: *mut SceneComponentLocationsMSFT,
    ) -> sys::Result;
    pub type GetSceneMarkerRawDataMSFT = unsafe extern "system" fn(
        scene: sys::SceneMSFT,
        marker_id: *const UuidMSFT,
        buffer_capacity_input: u32,
        buffer_count_output: *mut u32,
        buffer: *mut u8,
    ) -> sys::Result;
}

/// The scene-marker path's functions, loaded from the runtime.
#[derive(Clone, Copy)]
pub struct SceneMarkerFns {
    pub enumerate_scene_compute_features: pfn::EnumerateSceneComputeFeaturesMSFT,
    pub create_scene_observer: pfn::CreateSceneObserverMSFT,
    pub destroy_scene_observer: pfn::DestroySceneObserverMSFT,
    pub create_scene: pfn::CreateSceneMSFT,
    pub destroy_scene: pfn::DestroySceneMSFT,
    pub compute_new_scene: pfn::ComputeNewSceneMSFT,
    pub get_scene_compute_state: pfn::GetSceneComputeStateMSFT,
    pub get_scene_components: pfn::GetSceneComponentsMSFT,
    pub locate_scene_components: pfn::LocateSceneComponentsMSFT,
    pub get_scene_marker_raw_data: pfn::GetSceneMarkerRawDataMSFT,
}

/// One function of `instance` by name; the runtime's error where it has none.
fn proc_addr(instance: &xr::Instance, name: &CStr) -> Result<sys::pfn::VoidFunction, sys::Result> {
    let mut function = None;
    // SAFETY: the instance handle is live for the borrow, `name` is NUL-terminated and
    // `function` is a valid place for the answer.
    let result = unsafe {
        (instance.fp().get_instance_proc_addr)(instance.as_raw(), name.as_ptr(), &mut function)
    };
    if result.into_raw() < 0 {
        return Err(result);
    }
    function.ok_or(sys::Result::ERROR_FUNCTION_UNSUPPORTED)
}

/// Loads `$name` as the function pointer type `$pfn`.
macro_rules! load {
    ($instance:expr, $pfn:ty, $name:literal) => {{
        let function = proc_addr($instance, $name)?;
        // SAFETY: the runtime returned this entry point for `$name`, whose signature the
        // header declares as `$pfn`; function pointers of any signature have the same size.
        unsafe { std::mem::transmute::<sys::pfn::VoidFunction, $pfn>(function) }
    }};
}

impl SceneMarkerFns {
    /// The functions of `instance`, which must have been created with both
    /// `XR_MSFT_scene_understanding` and `XR_MSFT_scene_marker` enabled.
    pub fn load(instance: &xr::Instance) -> Result<Self, sys::Result> {
        Ok(Self {
            enumerate_scene_compute_features: load!(
                instance,
                pfn::EnumerateSceneComputeFeaturesMSFT,
                c"xrEnumerateSceneComputeFeaturesMSFT"
            ),
            create_scene_observer: load!(
                instance,
                pfn::CreateSceneObserverMSFT,
                c"xrCreateSceneObserverMSFT"
            ),
            destroy_scene_observer: load!(
                instance,
                pfn::DestroySceneObserverMSFT,
                c"xrDestroySceneObserverMSFT"
            ),
            create_scene: load!(instance, pfn::CreateSceneMSFT, c"xrCreateSceneMSFT"),
            destroy_scene: load!(instance, pfn::DestroySceneMSFT, c"xrDestroySceneMSFT"),
            compute_new_scene: load!(instance, pfn::ComputeNewSceneMSFT, c"xrComputeNewSceneMSFT"),
            get_scene_compute_state: load!(
                instance,
                pfn::GetSceneComputeStateMSFT,
                c"xrGetSceneComputeStateMSFT"
            ),
            get_scene_components: load!(
                instance,
                pfn::GetSceneComponentsMSFT,
                c"xrGetSceneComponentsMSFT"
            ),
            locate_scene_components: load!(
                instance,
                pfn::LocateSceneComponentsMSFT,
                c"xrLocateSceneComponentsMSFT"
            ),
            get_scene_marker_raw_data: load!(
                instance,
                pfn::GetSceneMarkerRawDataMSFT,
                c"xrGetSceneMarkerRawDataMSFT"
            ),
        })
    }
}
