//! Asks the Vulkan and OpenXR loaders what this machine offers. Both loaders are opened at run
//! time (ash and openxr `loaded`), so a machine without them gets an answer, not a link error.

use std::ffi::CStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VulkanDevice {
    pub name: String,
    /// "cpu" for lavapipe, "discrete-gpu", "integrated-gpu", …
    pub kind: String,
    pub api_version: String,
}

/// Lists Vulkan physical devices, or says why there are none.
pub fn vulkan_devices() -> Result<Vec<VulkanDevice>, String> {
    // SAFETY: loading libvulkan runs its initialisers; it is the system's Vulkan loader.
    let entry = unsafe { ash::Entry::load() }
        .map_err(|e| format!("the Vulkan loader (libvulkan.so.1) cannot be loaded: {e}"))?;
    let app = ash::vk::ApplicationInfo::default()
        .application_name(c"hologuide doctor")
        .api_version(ash::vk::API_VERSION_1_1);
    let info = ash::vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: `info` and what it points to outlive the call; the instance is destroyed below.
    let instance = unsafe { entry.create_instance(&info, None) }
        .map_err(|e| format!("no Vulkan driver answered (vkCreateInstance: {e})"))?;
    // SAFETY: `instance` is valid until `destroy_instance`, and the devices belong to it.
    let devices = unsafe {
        let devices = instance
            .enumerate_physical_devices()
            .map_err(|e| e.to_string());
        let described = devices.map(|devices| {
            devices
                .into_iter()
                .map(|device| describe_vulkan_device(&instance, device))
                .collect()
        });
        instance.destroy_instance(None);
        described
    }?;
    Ok(devices)
}

/// # Safety
/// `device` must belong to `instance`, which must be alive.
unsafe fn describe_vulkan_device(
    instance: &ash::Instance,
    device: ash::vk::PhysicalDevice,
) -> VulkanDevice {
    use ash::vk;
    // SAFETY: guaranteed by the caller.
    let properties = unsafe { instance.get_physical_device_properties(device) };
    let name = properties
        .device_name_as_c_str()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = match properties.device_type {
        vk::PhysicalDeviceType::CPU => "cpu",
        vk::PhysicalDeviceType::DISCRETE_GPU => "discrete-gpu",
        vk::PhysicalDeviceType::INTEGRATED_GPU => "integrated-gpu",
        vk::PhysicalDeviceType::VIRTUAL_GPU => "virtual-gpu",
        _ => "other",
    };
    let v = properties.api_version;
    VulkanDevice {
        name,
        kind: kind.to_owned(),
        api_version: format!(
            "{}.{}.{}",
            vk::api_version_major(v),
            vk::api_version_minor(v),
            vk::api_version_patch(v)
        ),
    }
}

/// What an OpenXR runtime says about itself and its head-mounted system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenXrRuntime {
    pub runtime_name: String,
    pub runtime_version: String,
    pub extensions: Vec<String>,
    pub api_layers: Vec<String>,
    pub system: Option<OpenXrSystem>,
    /// Why there is no system, when there is none (no headset connected).
    pub system_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenXrSystem {
    pub name: String,
    /// In the order the runtime prefers them.
    pub blend_modes: Vec<String>,
    /// Recommended and maximum image size per view.
    pub views: Vec<OpenXrView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenXrView {
    pub recommended: [u32; 2],
    pub max: [u32; 2],
}

/// Loads the OpenXR loader of this process, creates an instance on the active runtime and asks it
/// about the HMD system.
pub fn openxr_runtime() -> Result<OpenXrRuntime, String> {
    // SAFETY: loading the OpenXR loader runs its initialisers; it is the platform's loader.
    let entry = unsafe { openxr::Entry::load(&()) }
        .map_err(|e| format!("the OpenXR loader (libopenxr_loader.so.1) cannot be loaded: {e}"))?;
    let available = entry
        .enumerate_extensions()
        .map_err(|e| format!("the OpenXR loader cannot list extensions: {e}"))?;
    let extensions = available
        .names()
        .into_iter()
        .map(|name| {
            CStr::from_bytes_until_nul(name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(name).into_owned())
        })
        .collect();
    let api_layers = entry
        .enumerate_layers()
        .map(|layers| layers.into_iter().map(|l| l.layer_name).collect())
        .unwrap_or_default();
    let app = openxr::ApplicationInfo {
        application_name: "hologuide doctor",
        application_version: 1,
        engine_name: "hologuide",
        engine_version: 1,
        api_version: openxr::Version::new(1, 0, 0),
    };
    let instance = entry
        .create_instance(&app, &openxr::ExtensionSet::default(), &[], &())
        .map_err(|e| {
            format!("no OpenXR runtime answered (xrCreateInstance: {e}); is the runtime's service running?")
        })?;
    let properties = instance
        .properties()
        .map_err(|e| format!("xrGetInstanceProperties: {e}"))?;
    let (system, system_error) = match describe_system(&instance) {
        Ok(system) => (Some(system), None),
        Err(e) => (None, Some(e)),
    };
    Ok(OpenXrRuntime {
        runtime_name: properties.runtime_name,
        runtime_version: properties.runtime_version.to_string(),
        extensions,
        api_layers,
        system,
        system_error,
    })
}

fn describe_system(instance: &openxr::Instance) -> Result<OpenXrSystem, String> {
    let stereo = openxr::ViewConfigurationType::PRIMARY_STEREO;
    let system = instance
        .system(openxr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .map_err(|e| format!("no head-mounted display: {e}"))?;
    let properties = instance
        .system_properties(system)
        .map_err(|e| format!("xrGetSystemProperties: {e}"))?;
    let blend_modes = instance
        .enumerate_environment_blend_modes(system, stereo)
        .map_err(|e| format!("xrEnumerateEnvironmentBlendModes: {e}"))?
        .into_iter()
        .map(blend_mode_name)
        .collect();
    let views = instance
        .enumerate_view_configuration_views(system, stereo)
        .map_err(|e| format!("primary stereo views: {e}"))?
        .into_iter()
        .map(|v| OpenXrView {
            recommended: [
                v.recommended_image_rect_width,
                v.recommended_image_rect_height,
            ],
            max: [v.max_image_rect_width, v.max_image_rect_height],
        })
        .collect();
    Ok(OpenXrSystem {
        name: properties.system_name,
        blend_modes,
        views,
    })
}

fn blend_mode_name(mode: openxr::EnvironmentBlendMode) -> String {
    match mode {
        openxr::EnvironmentBlendMode::OPAQUE => "OPAQUE".to_owned(),
        openxr::EnvironmentBlendMode::ADDITIVE => "ADDITIVE".to_owned(),
        openxr::EnvironmentBlendMode::ALPHA_BLEND => "ALPHA_BLEND".to_owned(),
        other => format!("{other:?}"),
    }
}
