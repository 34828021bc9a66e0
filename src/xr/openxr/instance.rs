//! Loader, instance and system: only the extensions hologuide uses, each requested when the
//! runtime offers it and logged either way; the HMD system with its stereo views and the
//! environment blend mode chosen from what it offers.

use openxr as xr;

use super::XrError;
use super::binding::GraphicsBinding;

/// Optional extensions, requested only when offered. Why each: hands (select by pinch),
/// composition depth (reprojection on headsets that use it), refresh rate (logged), unbounded
/// space (HoloLens: room-scale without a boundary), spatial anchors (holograms that stay put).
const OPTIONAL: [&str; 7] = [
    "XR_EXT_hand_tracking",
    "XR_MSFT_hand_interaction",
    "XR_EXT_hand_interaction",
    "XR_KHR_composition_layer_depth",
    "XR_FB_display_refresh_rate",
    "XR_MSFT_unbounded_reference_space",
    "XR_MSFT_spatial_anchor",
];

/// HoloLens 2's own QR tracking (issue 16, [`super::markers`]): scene markers, on the scene
/// understanding they extend.
pub const SCENE_MARKERS: [&str; 2] = ["XR_MSFT_scene_understanding", "XR_MSFT_scene_marker"];
/// The cross-vendor marker tracking (issue 16): spatial entities, which need futures.
pub const SPATIAL_MARKERS: [&str; 3] = [
    "XR_EXT_future",
    "XR_EXT_spatial_entity",
    "XR_EXT_spatial_marker_tracking",
];
/// Marker tracking paths: each path's extensions are requested together, and only when the
/// runtime offers every one (each depends on the ones before it).
const MARKER_PATHS: [&[&str]; 2] = [&SCENE_MARKERS, &SPATIAL_MARKERS];

pub struct Context {
    pub entry: xr::Entry,
    pub instance: xr::Instance,
    pub system: xr::SystemId,
    pub enabled: xr::ExtensionSet,
    pub enabled_names: Vec<String>,
    pub runtime: String,
    pub system_name: String,
    pub blend_mode: xr::EnvironmentBlendMode,
    pub views: Vec<xr::ViewConfigurationView>,
}

/// The runtime's own spelling of an extension the openxr crate has no field for.
fn unknown_named<'a>(available: &'a xr::ExtensionSet, name: &str) -> Option<&'a Vec<u8>> {
    available
        .other
        .iter()
        .find(|n| n.strip_suffix(&[0]).unwrap_or(n) == name.as_bytes())
}

fn offered(available: &xr::ExtensionSet, name: &str) -> bool {
    match name {
        "XR_EXT_hand_tracking" => available.ext_hand_tracking,
        "XR_MSFT_hand_interaction" => available.msft_hand_interaction,
        "XR_EXT_hand_interaction" => available.ext_hand_interaction,
        "XR_KHR_composition_layer_depth" => available.khr_composition_layer_depth,
        "XR_FB_display_refresh_rate" => available.fb_display_refresh_rate,
        "XR_MSFT_unbounded_reference_space" => available.msft_unbounded_reference_space,
        "XR_MSFT_spatial_anchor" => available.msft_spatial_anchor,
        "XR_EXT_future" => available.ext_future,
        "XR_EXT_spatial_entity" => available.ext_spatial_entity,
        "XR_EXT_spatial_marker_tracking" => available.ext_spatial_marker_tracking,
        "XR_MSFT_scene_understanding" | "XR_MSFT_scene_marker" => {
            unknown_named(available, name).is_some()
        }
        _ => false,
    }
}

fn enable(set: &mut xr::ExtensionSet, available: &xr::ExtensionSet, name: &str) {
    match name {
        "XR_EXT_hand_tracking" => set.ext_hand_tracking = true,
        "XR_MSFT_hand_interaction" => set.msft_hand_interaction = true,
        "XR_EXT_hand_interaction" => set.ext_hand_interaction = true,
        "XR_KHR_composition_layer_depth" => set.khr_composition_layer_depth = true,
        "XR_FB_display_refresh_rate" => set.fb_display_refresh_rate = true,
        "XR_MSFT_unbounded_reference_space" => set.msft_unbounded_reference_space = true,
        "XR_MSFT_spatial_anchor" => set.msft_spatial_anchor = true,
        "XR_EXT_future" => set.ext_future = true,
        "XR_EXT_spatial_entity" => set.ext_spatial_entity = true,
        "XR_EXT_spatial_marker_tracking" => set.ext_spatial_marker_tracking = true,
        "XR_MSFT_scene_understanding" | "XR_MSFT_scene_marker" => {
            // The openxr crate has no field for them: pass the runtime's own spelling through.
            if let Some(name) = unknown_named(available, name) {
                set.other.push(name.clone());
            }
        }
        _ => {}
    }
}

/// The optional extensions to request from what the runtime offers, each with whether it is
/// (`true`) or why it is not: single ones when offered, marker paths when whole.
fn wanted(available: &xr::ExtensionSet) -> Vec<(&'static str, Result<(), &'static str>)> {
    let single = OPTIONAL.into_iter().map(|name| {
        let why = if offered(available, name) {
            Ok(())
        } else {
            Err("not offered by this runtime")
        };
        (name, why)
    });
    let paths = MARKER_PATHS.into_iter().flat_map(|path| {
        let whole = path.iter().all(|name| offered(available, name));
        path.iter().map(move |name| {
            let why = match (whole, offered(available, name)) {
                (true, _) => Ok(()),
                (false, true) => Err("offered, but not the extensions its marker tracking needs"),
                (false, false) => Err("not offered by this runtime"),
            };
            (*name, why)
        })
    });
    single.chain(paths).collect()
}

/// ADDITIVE (see-through: HoloLens), then ALPHA_BLEND (passthrough), then OPAQUE (VR headsets,
/// Monado): on a see-through display the cards float over the real work.
pub fn choose_blend_mode(offered: &[xr::EnvironmentBlendMode]) -> Option<xr::EnvironmentBlendMode> {
    use xr::EnvironmentBlendMode as B;
    [B::ADDITIVE, B::ALPHA_BLEND, B::OPAQUE]
        .into_iter()
        .find(|mode| offered.contains(mode))
}

pub fn blend_mode_name(mode: xr::EnvironmentBlendMode) -> &'static str {
    match mode {
        xr::EnvironmentBlendMode::OPAQUE => "OPAQUE",
        xr::EnvironmentBlendMode::ADDITIVE => "ADDITIVE",
        xr::EnvironmentBlendMode::ALPHA_BLEND => "ALPHA_BLEND",
        _ => "OTHER",
    }
}

/// What the views are cleared to. OPAQUE: a dim backdrop, so the light cards stay readable with
/// nothing behind them; see-through modes: transparent black, which shows the world.
pub fn clear_colour(mode: xr::EnvironmentBlendMode) -> [f64; 4] {
    if mode == xr::EnvironmentBlendMode::OPAQUE {
        [0.045, 0.05, 0.06, 1.0]
    } else {
        [0.0, 0.0, 0.0, 0.0]
    }
}

impl Context {
    pub fn create<B: GraphicsBinding>() -> Result<Self, XrError> {
        // SAFETY: loading the OpenXR loader runs its initialisers; it is the platform's loader.
        let entry = unsafe { xr::Entry::load(&()) }.map_err(|e| {
            XrError::NoRuntime(format!(
                "the OpenXR loader (libopenxr_loader.so.1) cannot be loaded: {e}"
            ))
        })?;
        let available = entry.enumerate_extensions().map_err(|e| {
            XrError::NoRuntime(format!("the OpenXR loader cannot list extensions: {e}"))
        })?;
        if !B::required_extension(&available) {
            return Err(XrError::NoGraphicsBinding(B::EXTENSION_NAME));
        }
        let mut enabled = xr::ExtensionSet::default();
        B::enable_extension(&mut enabled);
        let mut enabled_names = vec![B::EXTENSION_NAME.to_owned()];
        for (name, why) in wanted(&available) {
            match why {
                Ok(()) => {
                    enable(&mut enabled, &available, name);
                    enabled_names.push(name.to_owned());
                    tracing::info!("OpenXR extension {name}: offered, enabled");
                }
                Err(why) => tracing::info!("OpenXR extension {name}: {why}"),
            }
        }
        let app = xr::ApplicationInfo {
            application_name: "hologuide",
            application_version: 1,
            engine_name: "hologuide",
            engine_version: 1,
            api_version: xr::Version::new(1, 0, 0),
        };
        let instance = entry
            .create_instance(&app, &enabled, &[], &())
            .map_err(|e| {
                XrError::NoRuntime(format!(
                    "xrCreateInstance: {e}; is the runtime's service running?"
                ))
            })?;
        let properties = instance
            .properties()
            .map_err(|e| XrError::call("xrGetInstanceProperties", e))?;
        let runtime = format!("{} {}", properties.runtime_name, properties.runtime_version);
        let system = instance
            .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
            .map_err(|e| XrError::NoSystem(format!("xrGetSystem: {e}")))?;
        let system_name = instance
            .system_properties(system)
            .map_err(|e| XrError::call("xrGetSystemProperties", e))?
            .system_name;
        let stereo = xr::ViewConfigurationType::PRIMARY_STEREO;
        let configurations = instance
            .enumerate_view_configurations(system)
            .map_err(|e| XrError::call("xrEnumerateViewConfigurations", e))?;
        if !configurations.contains(&stereo) {
            return Err(XrError::NoStereo(format!(
                "the system offers {configurations:?}"
            )));
        }
        let views = instance
            .enumerate_view_configuration_views(system, stereo)
            .map_err(|e| XrError::call("xrEnumerateViewConfigurationViews", e))?;
        if views.len() != 2 {
            return Err(XrError::NoStereo(format!(
                "PRIMARY_STEREO has {} views",
                views.len()
            )));
        }
        let modes = instance
            .enumerate_environment_blend_modes(system, stereo)
            .map_err(|e| XrError::call("xrEnumerateEnvironmentBlendModes", e))?;
        let blend_mode = choose_blend_mode(&modes).ok_or_else(|| {
            XrError::NoSystem(format!(
                "no environment blend mode hologuide knows: {modes:?}"
            ))
        })?;
        tracing::info!(
            runtime = %runtime,
            system = %system_name,
            blend_mode = blend_mode_name(blend_mode),
            "OpenXR instance ready"
        );
        Ok(Self {
            entry,
            instance,
            system,
            enabled,
            enabled_names,
            runtime,
            system_name,
            blend_mode,
            views,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xr::EnvironmentBlendMode as B;

    fn enabled_by(available: &xr::ExtensionSet) -> Vec<&'static str> {
        wanted(available)
            .into_iter()
            .filter_map(|(name, why)| why.is_ok().then_some(name))
            .collect()
    }

    #[test]
    fn a_marker_path_is_enabled_only_when_the_runtime_offers_every_extension_it_needs() {
        let mut available = xr::ExtensionSet::default();
        available.other.push(b"XR_MSFT_scene_marker\0".to_vec());
        available.ext_spatial_entity = true;
        available.ext_spatial_marker_tracking = true;
        assert!(enabled_by(&available).is_empty(), "half of each path");

        available
            .other
            .push(b"XR_MSFT_scene_understanding".to_vec());
        available.ext_future = true;
        available.ext_hand_tracking = true;
        let enabled = enabled_by(&available);
        assert_eq!(
            enabled,
            [
                "XR_EXT_hand_tracking",
                "XR_MSFT_scene_understanding",
                "XR_MSFT_scene_marker",
                "XR_EXT_future",
                "XR_EXT_spatial_entity",
                "XR_EXT_spatial_marker_tracking",
            ]
        );
        let mut set = xr::ExtensionSet::default();
        for name in enabled {
            enable(&mut set, &available, name);
        }
        // The runtime's spelling, trailing NUL and all, is what the instance asks for.
        assert_eq!(
            set.other,
            [
                b"XR_MSFT_scene_understanding".to_vec(),
                b"XR_MSFT_scene_marker\0".to_vec()
            ]
        );
        assert!(set.ext_future && set.ext_spatial_entity && set.ext_spatial_marker_tracking);
    }

    #[test]
    fn blend_mode_prefers_additive_then_alpha_blend_then_opaque() {
        assert_eq!(
            choose_blend_mode(&[B::OPAQUE, B::ADDITIVE]),
            Some(B::ADDITIVE)
        );
        assert_eq!(
            choose_blend_mode(&[B::OPAQUE, B::ALPHA_BLEND]),
            Some(B::ALPHA_BLEND)
        );
        assert_eq!(choose_blend_mode(&[B::OPAQUE]), Some(B::OPAQUE));
        assert_eq!(choose_blend_mode(&[]), None);
    }

    #[test]
    fn an_opaque_display_gets_a_dim_backdrop_and_see_through_ones_transparent_black() {
        let opaque = clear_colour(B::OPAQUE);
        assert_eq!(opaque[3], 1.0);
        assert!(opaque[..3].iter().all(|c| *c > 0.0 && *c < 0.1));
        assert_eq!(clear_colour(B::ADDITIVE), [0.0; 4]);
        assert_eq!(clear_colour(B::ALPHA_BLEND), [0.0; 4]);
    }
}
