//! Loader, instance and system: only the extensions hologuide uses, each requested when the
//! runtime offers it and logged either way; the HMD system with its stereo views and the
//! environment blend mode chosen from what it offers.

use openxr as xr;

use super::XrError;
use super::binding::GraphicsBinding;

/// Optional extensions, requested only when offered. Why each: hands (select by pinch),
/// composition depth (reprojection on headsets that use it), refresh rate (logged), unbounded
/// space (HoloLens: room-scale without a boundary), spatial anchors (holograms that stay put),
/// scene markers (HoloLens' own QR tracking, used by the QR issue).
const OPTIONAL: [&str; 8] = [
    "XR_EXT_hand_tracking",
    "XR_MSFT_hand_interaction",
    "XR_EXT_hand_interaction",
    "XR_KHR_composition_layer_depth",
    "XR_FB_display_refresh_rate",
    "XR_MSFT_unbounded_reference_space",
    "XR_MSFT_spatial_anchor",
    "XR_MSFT_scene_marker",
];
const SCENE_MARKER: &[u8] = b"XR_MSFT_scene_marker";

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

fn offered(available: &xr::ExtensionSet, name: &str) -> bool {
    match name {
        "XR_EXT_hand_tracking" => available.ext_hand_tracking,
        "XR_MSFT_hand_interaction" => available.msft_hand_interaction,
        "XR_EXT_hand_interaction" => available.ext_hand_interaction,
        "XR_KHR_composition_layer_depth" => available.khr_composition_layer_depth,
        "XR_FB_display_refresh_rate" => available.fb_display_refresh_rate,
        "XR_MSFT_unbounded_reference_space" => available.msft_unbounded_reference_space,
        "XR_MSFT_spatial_anchor" => available.msft_spatial_anchor,
        "XR_MSFT_scene_marker" => available
            .other
            .iter()
            .any(|n| n.strip_suffix(&[0]).unwrap_or(n) == SCENE_MARKER),
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
        "XR_MSFT_scene_marker" => {
            // The openxr crate has no field for it: pass the runtime's own spelling through.
            if let Some(name) = available
                .other
                .iter()
                .find(|n| n.strip_suffix(&[0]).unwrap_or(n) == SCENE_MARKER)
            {
                set.other.push(name.clone());
            }
        }
        _ => {}
    }
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
        for name in OPTIONAL {
            if offered(&available, name) {
                enable(&mut enabled, &available, name);
                enabled_names.push(name.to_owned());
                tracing::info!("OpenXR extension {name}: offered, enabled");
            } else {
                tracing::info!("OpenXR extension {name}: not offered by this runtime");
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
