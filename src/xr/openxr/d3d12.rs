//! `XR_KHR_D3D12_enable` for HoloLens 2 (which has no Vulkan), behind the same
//! [`GraphicsBinding`] as Vulkan.
//!
//! **Status: written, never compiled or run.** These Linux machines have no Windows target and
//! no HoloLens, so this file is compiled only under `cfg(windows)`. What remains before it can
//! work, in order:
//! 1. `Cargo.toml`: a `[target.'cfg(windows)'.dependencies]` entry enabling wgpu's `dx12`
//!    feature, and the `windows` crate (the version wgpu-hal's dx12 backend uses) for
//!    `ID3D12Resource`/`IDXGIAdapter1`; the OpenXR loader for UWP from the
//!    `OpenXR.Loader` NuGet package next to the executable (see `manifests/README.md`).
//! 2. Check the wgpu-hal 30 dx12 signatures used below (`texture_from_raw`, `raw_device`,
//!    `raw_queue`, adapter LUID from `AdapterInfo::device`/`driver_info`); they were written
//!    from the wgpu-hal sources, not against a compiler.
//! 3. Swapchain formats: HoloLens offers `DXGI_FORMAT_R8G8B8A8_UNORM_SRGB` (29) and
//!    `DXGI_FORMAT_B8G8R8A8_UNORM_SRGB` (91); [`D3d12::pick_format`] maps those.
//! 4. Frame loop: the same as on Vulkan; the blend mode will be ADDITIVE (transparent black
//!    clear), the reference space UNBOUNDED_MSFT.
//!
//! How it differs from Vulkan: with D3D12 the application creates the device itself, on the
//! adapter whose LUID `xrGetD3D12GraphicsRequirementsKHR` names, and hands the device and its
//! direct queue to `xrCreateSession`. wgpu creates that device for us (dx12 backend, adapter
//! picked by LUID); wgpu-hal then gives back the raw `ID3D12Device`/`ID3D12CommandQueue`.

use wgpu::hal;
use wgpu::hal::api::Dx12 as HalDx12;
use windows::core::Interface as _;

use super::XrError;
use super::binding::{GraphicsBinding, ImageUse};

const DXGI_FORMAT_R8G8B8A8_UNORM_SRGB: u32 = 29;
const DXGI_FORMAT_B8G8R8A8_UNORM_SRGB: u32 = 91;
const DXGI_FORMAT_D32_FLOAT: u32 = 40;

pub struct D3d12 {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    _instance: wgpu::Instance,
}

impl GraphicsBinding for D3d12 {
    type Api = openxr::D3D12;
    const EXTENSION_NAME: &'static str = "XR_KHR_D3D12_enable";

    fn required_extension(available: &openxr::ExtensionSet) -> bool {
        available.khr_d3d12_enable
    }

    fn enable_extension(set: &mut openxr::ExtensionSet) {
        set.khr_d3d12_enable = true;
    }

    fn create(instance: &openxr::Instance, system: openxr::SystemId) -> Result<Self, XrError> {
        let requirements = instance
            .graphics_requirements::<openxr::D3D12>(system)
            .map_err(|e| XrError::call("xrGetD3D12GraphicsRequirementsKHR", e))?;
        let luid = requirements.adapter_luid;
        let wgpu_instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::DX12,
            ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
        });
        // The runtime names the adapter the headset is on; any other would not be composited.
        let adapter = pollster::block_on(wgpu_instance.enumerate_adapters(wgpu::Backends::DX12))
            .into_iter()
            .find(|a| {
                // SAFETY: reading the DXGI description of an adapter wgpu enumerated.
                let description = unsafe { a.as_hal::<HalDx12>() }
                    .and_then(|hal| unsafe { hal.as_raw().GetDesc1() }.ok());
                description.is_some_and(|d| {
                    d.AdapterLuid.LowPart == luid.LowPart && d.AdapterLuid.HighPart == luid.HighPart
                })
            })
            .ok_or_else(|| {
                XrError::NoSystem(format!(
                    "no D3D12 adapter with the runtime's LUID {:#x}:{:#x}",
                    luid.HighPart, luid.LowPart
                ))
            })?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hologuide XR device"),
            required_features: adapter.features() & wgpu::Features::MULTIVIEW,
            ..Default::default()
        }))
        .map_err(|e| XrError::Vulkan(format!("D3D12 device: {e}")))?;
        Ok(Self {
            device,
            queue,
            info,
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
        &self.info
    }

    fn describe(&self) -> String {
        format!("{} on D3D12", self.info.name)
    }

    fn session_create_info(&self) -> openxr::d3d::SessionCreateInfoD3D12 {
        // SAFETY: the device is a dx12 device by construction (DX12 backend only).
        let device = unsafe { self.device.as_hal::<HalDx12>() };
        let queue = unsafe { self.queue.as_hal::<HalDx12>() };
        openxr::d3d::SessionCreateInfoD3D12 {
            device: device.map_or(std::ptr::null_mut(), |d| d.raw_device().as_raw()),
            queue: queue.map_or(std::ptr::null_mut(), |q| q.as_raw().as_raw()),
        }
    }

    fn pick_format(offered: &[u32]) -> Option<(u32, wgpu::TextureFormat)> {
        offered.iter().find_map(|&format| match format {
            DXGI_FORMAT_R8G8B8A8_UNORM_SRGB => Some((format, wgpu::TextureFormat::Rgba8UnormSrgb)),
            DXGI_FORMAT_B8G8R8A8_UNORM_SRGB => Some((format, wgpu::TextureFormat::Bgra8UnormSrgb)),
            _ => None,
        })
    }

    fn pick_depth_format(offered: &[u32]) -> Option<(u32, wgpu::TextureFormat)> {
        offered
            .contains(&DXGI_FORMAT_D32_FLOAT)
            .then_some((DXGI_FORMAT_D32_FLOAT, crate::render::DEPTH_FORMAT))
    }

    fn format_name(format: u32) -> String {
        format!("DXGI_FORMAT {format}")
    }

    unsafe fn wrap_image(
        &self,
        image: *mut openxr::sys::platform::ID3D12Resource,
        format: wgpu::TextureFormat,
        (width, height, layers): (u32, u32, u32),
        usage: ImageUse,
    ) -> Result<wgpu::Texture, XrError> {
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: layers,
        };
        // SAFETY: the caller guarantees `image` is a live swapchain ID3D12Resource of this size
        // and format; `from_raw_borrowed` adds a reference, so the runtime keeps its own.
        let resource = unsafe {
            windows::Win32::Graphics::Direct3D12::ID3D12Resource::from_raw_borrowed(&image)
        }
        .cloned()
        .ok_or_else(|| XrError::Vulkan("a null swapchain image".into()))?;
        // SAFETY: the resource matches the descriptor (see above).
        let texture = unsafe {
            hal::dx12::Device::texture_from_raw(
                resource,
                format,
                wgpu::TextureDimension::D2,
                size,
                1,
                1,
            )
        };
        // SAFETY: made on this device's adapter with the same descriptor; swapchain images are
        // handed out in the render-target state.
        Ok(unsafe {
            self.device.create_texture_from_hal::<HalDx12>(
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
