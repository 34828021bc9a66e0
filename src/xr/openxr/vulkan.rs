//! `XR_KHR_vulkan_enable2`: the runtime creates our VkInstance and VkDevice (adding what its
//! compositor needs), wgpu-hal adopts them (`from_raw`), and wgpu runs on top.
//!
//! The Vulkan objects are created with exactly the extensions and features wgpu-hal asks for
//! (`desired_extensions`, `required_device_extensions`, `physical_device_features`), which is
//! what its `from_raw` contracts require; the runtime may add more, never fewer.

use std::ffi::c_char;

use ash::vk::{self, Handle};
use wgpu::hal;
use wgpu::hal::api::Vulkan as HalVulkan;

use super::XrError;
use super::binding::{GraphicsBinding, ImageUse};

/// Multiview is core in Vulkan 1.1: nothing older will do.
const MIN_VERSION: u32 = vk::API_VERSION_1_1;
/// The newest Vulkan version wgpu-hal knows how to use.
const NEWEST_VERSION: u32 = vk::API_VERSION_1_3;

pub struct Vulkan {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter_info: wgpu::AdapterInfo,
    raw_instance: vk::Instance,
    raw_physical_device: vk::PhysicalDevice,
    raw_device: vk::Device,
    queue_family_index: u32,
    // Kept so the instance outlives the device (wgpu's `Instance` owns the hal instance).
    _instance: wgpu::Instance,
}

fn vk_error(what: &str, e: impl std::fmt::Display) -> XrError {
    XrError::Vulkan(format!("{what}: {e}"))
}

fn version_of(v: openxr::Version) -> u32 {
    vk::make_api_version(0, u32::from(v.major()), u32::from(v.minor()), 0)
}

impl GraphicsBinding for Vulkan {
    type Api = openxr::Vulkan;
    const EXTENSION_NAME: &'static str = "XR_KHR_vulkan_enable2";

    fn required_extension(available: &openxr::ExtensionSet) -> bool {
        available.khr_vulkan_enable2
    }

    fn enable_extension(set: &mut openxr::ExtensionSet) {
        set.khr_vulkan_enable2 = true;
    }

    fn create(instance: &openxr::Instance, system: openxr::SystemId) -> Result<Self, XrError> {
        let requirements = instance
            .graphics_requirements::<openxr::Vulkan>(system)
            .map_err(|e| XrError::call("xrGetVulkanGraphicsRequirements2KHR", e))?;
        let min = version_of(requirements.min_api_version_supported);
        let max = version_of(requirements.max_api_version_supported);
        // SAFETY: loading libvulkan runs its initialisers; it is the platform's Vulkan loader
        // (through the Monado tree, the tree's loader and lavapipe).
        let entry = unsafe { ash::Entry::load() }
            .map_err(|e| vk_error("the Vulkan loader (libvulkan.so.1) cannot be loaded", e))?;
        // SAFETY: a plain query of the loader.
        let loader_version = unsafe { entry.try_enumerate_instance_version() }
            .ok()
            .flatten()
            .unwrap_or(vk::API_VERSION_1_0);
        // The newest version both the loader and wgpu know (wgpu-hal calls core 1.2 functions
        // such as vkGetSemaphoreCounterValue when the device has them, so the instance must be
        // created at that version too), but at least what the runtime asks for.
        let api_version = loader_version.min(NEWEST_VERSION).max(min);
        if api_version < MIN_VERSION
            || vk::api_version_major(api_version) > vk::api_version_major(max)
        {
            return Err(XrError::Vulkan(format!(
                "hologuide needs Vulkan 1.1 or newer; the loader offers {}.{} and the runtime {}.{} to {}.{}",
                vk::api_version_major(loader_version),
                vk::api_version_minor(loader_version),
                vk::api_version_major(min),
                vk::api_version_minor(min),
                vk::api_version_major(max),
                vk::api_version_minor(max),
            )));
        }

        let flags = wgpu::InstanceFlags::empty();
        let extensions = hal::vulkan::Instance::desired_extensions(&entry, api_version, flags)
            .map_err(|e| vk_error("listing Vulkan instance extensions", e))?;
        let extension_ptrs: Vec<*const c_char> = extensions.iter().map(|e| e.as_ptr()).collect();
        let app = vk::ApplicationInfo::default()
            .application_name(c"hologuide")
            .application_version(1)
            .engine_name(c"hologuide")
            .engine_version(1)
            .api_version(api_version);
        let create_info = vk::InstanceCreateInfo::default()
            .application_info(&app)
            .enabled_extension_names(&extension_ptrs);
        // SAFETY: `create_info` and everything it points to live until the call returns;
        // vkGetInstanceProcAddr is the loader's own.
        let raw_instance = unsafe {
            instance.create_vulkan_instance(
                system,
                std::mem::transmute::<
                    vk::PFN_vkGetInstanceProcAddr,
                    openxr::sys::platform::VkGetInstanceProcAddr,
                >(entry.static_fn().get_instance_proc_addr),
                &create_info as *const _ as *const _,
            )
        }
        .map_err(|e| XrError::call("xrCreateVulkanInstanceKHR", e))?
        .map_err(|code| {
            vk_error(
                "vkCreateInstance through the runtime",
                vk::Result::from_raw(code),
            )
        })?;
        let raw_instance = vk::Instance::from_raw(raw_instance as u64);
        // SAFETY: the instance was just created from `entry`.
        let ash_instance = unsafe { ash::Instance::load(entry.static_fn(), raw_instance) };

        // SAFETY: the instance came from xrCreateVulkanInstanceKHR, as enable2 requires.
        let physical_device =
            unsafe { instance.vulkan_graphics_device(system, raw_instance.as_raw() as _) }
                .map_err(|e| XrError::call("xrGetVulkanGraphicsDevice2KHR", e))?;
        let physical_device = vk::PhysicalDevice::from_raw(physical_device as u64);

        // SAFETY: `ash_instance` was created from `entry` with `api_version` and `extensions`
        // (wgpu-hal's desired set), as `from_raw` requires; wgpu-hal takes ownership of it.
        let hal_instance = unsafe {
            hal::vulkan::Instance::from_raw(
                entry.clone(),
                ash_instance.clone(),
                api_version,
                0,
                None,
                extensions,
                flags,
                wgpu::MemoryBudgetThresholds::default(),
                false,
                None,
            )
        }
        .map_err(|e| vk_error("wgpu cannot adopt the Vulkan instance", e))?;
        let exposed = hal_instance
            .expose_adapter(physical_device)
            .ok_or_else(|| {
                XrError::Vulkan("wgpu cannot use the Vulkan device the runtime chose".into())
            })?;
        let adapter_info = exposed.info.clone();

        // Multiview lets the renderer draw both eyes in one pass; it is optional.
        let features = exposed.features & wgpu::Features::MULTIVIEW;
        let limits = wgpu::Limits {
            max_multiview_view_count: exposed.capabilities.limits.max_multiview_view_count.min(2),
            ..wgpu::Limits::default().using_resolution(exposed.capabilities.limits.clone())
        };
        let device_extensions = exposed.adapter.required_device_extensions(features);
        let mut physical_features = exposed
            .adapter
            .physical_device_features(&device_extensions, features);
        // SAFETY: `physical_device` belongs to `ash_instance`.
        let families =
            unsafe { ash_instance.get_physical_device_queue_family_properties(physical_device) };
        let queue_family_index = families
            .iter()
            .position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS))
            .ok_or_else(|| XrError::Vulkan("the device has no graphics queue".into()))?
            as u32;
        let priorities = [1.0f32];
        let queue_info = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(queue_family_index)
            .queue_priorities(&priorities)];
        let device_extension_ptrs: Vec<*const c_char> =
            device_extensions.iter().map(|e| e.as_ptr()).collect();
        let device_info = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queue_info)
            .enabled_extension_names(&device_extension_ptrs);
        let device_info = physical_features.add_to_device_create(device_info);
        // SAFETY: as for the instance; `device_info`'s chain lives until the call returns.
        let raw_device = unsafe {
            instance.create_vulkan_device(
                system,
                std::mem::transmute::<
                    vk::PFN_vkGetInstanceProcAddr,
                    openxr::sys::platform::VkGetInstanceProcAddr,
                >(entry.static_fn().get_instance_proc_addr),
                physical_device.as_raw() as _,
                &device_info as *const _ as *const _,
            )
        }
        .map_err(|e| XrError::call("xrCreateVulkanDeviceKHR", e))?
        .map_err(|code| {
            vk_error(
                "vkCreateDevice through the runtime",
                vk::Result::from_raw(code),
            )
        })?;
        let raw_device = vk::Device::from_raw(raw_device as u64);
        // SAFETY: the device was just created on `physical_device` of `ash_instance`.
        let ash_device = unsafe { ash::Device::load(ash_instance.fp_v1_0(), raw_device) };

        // SAFETY: the device was created from this adapter with `device_extensions` and
        // `physical_features` for `features`, one queue of `queue_family_index`; wgpu-hal
        // takes ownership.
        let open = unsafe {
            exposed.adapter.device_from_raw(
                ash_device,
                None,
                &device_extensions,
                features,
                &limits,
                &wgpu::MemoryHints::Performance,
                queue_family_index,
                0,
            )
        }
        .map_err(|e| vk_error("wgpu cannot adopt the Vulkan device", e))?;
        // SAFETY: the hal objects above are valid and now owned by wgpu.
        let wgpu_instance = unsafe { wgpu::Instance::from_hal::<HalVulkan>(hal_instance) };
        // SAFETY: `exposed` was exposed by the instance just handed to wgpu.
        let adapter = unsafe { wgpu_instance.create_adapter_from_hal(exposed) };
        // SAFETY: `open` was opened on `adapter` with `features` and `limits`.
        let (device, queue) = unsafe {
            adapter.create_device_from_hal(
                open,
                &wgpu::DeviceDescriptor {
                    label: Some("hologuide XR device"),
                    required_features: features,
                    required_limits: limits,
                    ..Default::default()
                },
            )
        }
        .map_err(|e| vk_error("wgpu cannot open the device", e))?;
        Ok(Self {
            device,
            queue,
            adapter_info,
            raw_instance,
            raw_physical_device: physical_device,
            raw_device,
            queue_family_index,
            _instance: wgpu_instance,
        })
    }

    fn device(&self) -> &wgpu::Device {
        &self.device
    }

    fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.adapter_info
    }

    fn describe(&self) -> String {
        format!(
            "{} on Vulkan ({})",
            self.adapter_info.name, self.adapter_info.driver_info
        )
    }

    fn session_create_info(&self) -> openxr::vulkan::SessionCreateInfo {
        openxr::vulkan::SessionCreateInfo {
            instance: self.raw_instance.as_raw() as _,
            physical_device: self.raw_physical_device.as_raw() as _,
            device: self.raw_device.as_raw() as _,
            queue_family_index: self.queue_family_index,
            queue_index: 0,
        }
    }

    fn pick_format(offered: &[u32]) -> Option<(u32, wgpu::TextureFormat)> {
        offered.iter().find_map(|&format| {
            let wgpu_format = match vk::Format::from_raw(format as i32) {
                vk::Format::R8G8B8A8_SRGB => wgpu::TextureFormat::Rgba8UnormSrgb,
                vk::Format::B8G8R8A8_SRGB => wgpu::TextureFormat::Bgra8UnormSrgb,
                _ => return None,
            };
            Some((format, wgpu_format))
        })
    }

    fn pick_depth_format(offered: &[u32]) -> Option<(u32, wgpu::TextureFormat)> {
        let d32 = vk::Format::D32_SFLOAT.as_raw() as u32;
        offered
            .contains(&d32)
            .then_some((d32, crate::render::DEPTH_FORMAT))
    }

    fn format_name(format: u32) -> String {
        format!("{:?}", vk::Format::from_raw(format as i32))
    }

    unsafe fn wrap_image(
        &self,
        image: u64,
        format: wgpu::TextureFormat,
        (width, height, layers): (u32, u32, u32),
        usage: ImageUse,
    ) -> Result<wgpu::Texture, XrError> {
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: layers,
        };
        let hal_descriptor = hal::TextureDescriptor {
            label: Some("XR swapchain image"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: usage.initial_state() | wgpu::TextureUses::COPY_SRC,
            memory_flags: hal::MemoryFlags::empty(),
            view_formats: Vec::new(),
        };
        let texture = match unsafe { self.device.as_hal::<HalVulkan>() } {
            // SAFETY: the caller guarantees the image matches the descriptor; the empty drop
            // callback keeps wgpu-hal from destroying the runtime's image, and External memory
            // from freeing its memory.
            Some(hal_device) => unsafe {
                hal_device.texture_from_raw(
                    vk::Image::from_raw(image),
                    &hal_descriptor,
                    Some(Box::new(|| {})),
                    hal::vulkan::TextureMemory::External,
                )
            },
            None => {
                return Err(XrError::Vulkan(
                    "the XR device is not a Vulkan device".into(),
                ));
            }
        };
        // SAFETY: the hal texture was made on this device from the same descriptor; swapchain
        // images are handed out in colour- or depth-attachment layout (XR_KHR_vulkan_enable2).
        Ok(unsafe {
            self.device.create_texture_from_hal::<HalVulkan>(
                texture,
                &wgpu::TextureDescriptor {
                    label: Some("XR swapchain image"),
                    size,
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage: usage.texture_usages(),
                    view_formats: &[],
                },
                usage.initial_state(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_srgb_format_the_runtime_offers_is_picked_in_its_order() {
        let offered = [
            vk::Format::R16G16B16A16_SFLOAT.as_raw() as u32,
            vk::Format::B8G8R8A8_SRGB.as_raw() as u32,
            vk::Format::R8G8B8A8_SRGB.as_raw() as u32,
        ];
        assert_eq!(
            Vulkan::pick_format(&offered),
            Some((offered[1], wgpu::TextureFormat::Bgra8UnormSrgb))
        );
    }

    #[test]
    fn a_runtime_offering_no_srgb_format_gets_none_and_the_error_names_what_it_offered() {
        let offered = [
            vk::Format::R8G8B8A8_UNORM.as_raw() as u32,
            vk::Format::D32_SFLOAT.as_raw() as u32,
        ];
        assert_eq!(Vulkan::pick_format(&offered), None);
        let error = XrError::NoSwapchainFormat {
            offered: offered
                .iter()
                .map(|f| Vulkan::format_name(*f))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let message = error.to_string();
        assert!(message.contains("R8G8B8A8_UNORM, D32_SFLOAT"), "{message}");
        assert!(message.contains("8-bit sRGB"), "{message}");
    }

    #[test]
    fn a_runtime_without_vulkan_support_is_told_in_words() {
        let mut none = openxr::ExtensionSet::default();
        assert!(!Vulkan::required_extension(&none));
        Vulkan::enable_extension(&mut none);
        assert!(Vulkan::required_extension(&none));
        let message = XrError::NoGraphicsBinding(Vulkan::EXTENSION_NAME).to_string();
        assert!(
            message.contains("no Vulkan support (XR_KHR_vulkan_enable2 is missing)"),
            "{message}"
        );
    }

    #[test]
    fn a_runtime_that_went_away_is_told_apart_from_a_refused_call() {
        use openxr::sys::Result as R;
        for lost in [
            R::ERROR_INSTANCE_LOST,
            R::ERROR_RUNTIME_FAILURE,
            R::ERROR_SESSION_LOST,
        ] {
            assert!(matches!(
                XrError::call("xrWaitFrame", lost),
                XrError::RuntimeLost { .. }
            ));
        }
        let refused = XrError::call("xrCreateSwapchain", R::ERROR_SWAPCHAIN_FORMAT_UNSUPPORTED);
        assert!(matches!(refused, XrError::Call { .. }));
        assert!(
            XrError::call("xrWaitFrame", R::ERROR_INSTANCE_LOST)
                .to_string()
                .contains("is the runtime's service (monado-service) still running?")
        );
    }
}
