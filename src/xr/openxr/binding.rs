//! The graphics-binding seam (bevy_oxr's `GraphicsExt` idea): everything that depends on the
//! graphics API lives behind [`GraphicsBinding`], so the session, frame loop and input code is
//! the same on every platform.
//!
//! A binding
//! 1. creates the graphics device *through the runtime* (it picks the GPU the headset is on and
//!    adds the extensions its compositor needs) and hands it to wgpu through wgpu-hal;
//! 2. tells OpenXR how to create a session on that device;
//! 3. picks a swapchain format the renderer can draw into from what the runtime offers;
//! 4. wraps each swapchain image as a `wgpu::Texture` without taking ownership of it.
//!
//! Implementations:
//! - [`super::vulkan::Vulkan`]: `XR_KHR_vulkan_enable2` (Linux, Android, Windows PC headsets);
//!   tested end to end on Monado with lavapipe.
//! - `super::d3d12::D3d12` (`cfg(windows)`): `XR_KHR_D3D12_enable` for HoloLens 2, which has
//!   no Vulkan. It cannot be compiled on these Linux machines (no Windows target is installed)
//!   and has never run; its module comment lists what is missing.

use super::XrError;

pub trait GraphicsBinding: Sized {
    /// The openxr crate's marker type for this graphics API.
    type Api: openxr::Graphics;

    /// The instance extension the binding needs (`XR_KHR_vulkan_enable2`, …).
    fn required_extension(available: &openxr::ExtensionSet) -> bool;
    fn enable_extension(set: &mut openxr::ExtensionSet);
    const EXTENSION_NAME: &'static str;

    /// Creates the device the runtime asks for and a wgpu device/queue on it.
    fn create(instance: &openxr::Instance, system: openxr::SystemId) -> Result<Self, XrError>;

    fn device(&self) -> &wgpu::Device;
    fn queue(&self) -> &wgpu::Queue;
    /// The adapter the runtime chose (the renderer tunes its filtering to it).
    fn adapter_info(&self) -> &wgpu::AdapterInfo;
    /// "llvmpipe (LLVM 19.1.7, 256 bits) on Vulkan".
    fn describe(&self) -> String;

    /// What `xrCreateSession` needs to know about the device.
    fn session_create_info(&self) -> <Self::Api as openxr::Graphics>::SessionCreateInfo;

    /// The first format of `offered` (the runtime's order of preference) the renderer can draw
    /// into, with its wgpu twin. sRGB formats only: the renderer writes linear colour and
    /// relies on the hardware's sRGB encode, as the runtime's compositor expects.
    fn pick_format(
        offered: &[<Self::Api as openxr::Graphics>::Format],
    ) -> Option<(<Self::Api as openxr::Graphics>::Format, wgpu::TextureFormat)>;

    /// The depth format of `offered` the renderer draws depth in ([`crate::render::DEPTH_FORMAT`],
    /// 32-bit float), for the `XR_KHR_composition_layer_depth` swapchain; `None` when the
    /// runtime does not offer it (the frame then goes without a depth layer).
    fn pick_depth_format(
        offered: &[<Self::Api as openxr::Graphics>::Format],
    ) -> Option<(<Self::Api as openxr::Graphics>::Format, wgpu::TextureFormat)>;

    /// A format's name for messages ("R8G8B8A8_SRGB").
    fn format_name(format: <Self::Api as openxr::Graphics>::Format) -> String;

    /// Wraps one swapchain image (a 2D array texture) as a texture the renderer can draw
    /// into (as colour or depth, per `usage`) and copy from. The runtime keeps owning the image.
    ///
    /// # Safety
    /// `image` must be an image of a live swapchain created with `format`, `size` (width, height,
    /// array layers), the attachment usage `usage` names and transfer-source usage; the
    /// texture must be dropped before the swapchain is destroyed.
    unsafe fn wrap_image(
        &self,
        image: <Self::Api as openxr::Graphics>::SwapchainImage,
        format: wgpu::TextureFormat,
        size: (u32, u32, u32),
        usage: ImageUse,
    ) -> Result<wgpu::Texture, XrError>;
}

/// What a swapchain image is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageUse {
    Colour,
    Depth,
}

impl ImageUse {
    /// The wgpu usage of the wrapped texture (always copyable: the capture reads it back).
    pub fn texture_usages(self) -> wgpu::TextureUsages {
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC
    }

    /// The state the runtime hands the image out in (colour or depth attachment, per
    /// `XR_KHR_vulkan_enable2`), which is the state wgpu starts tracking it in.
    pub fn initial_state(self) -> wgpu::TextureUses {
        match self {
            Self::Colour => wgpu::TextureUses::COLOR_TARGET,
            Self::Depth => wgpu::TextureUses::DEPTH_STENCIL_WRITE,
        }
    }

    /// The OpenXR swapchain usage flags.
    pub fn swapchain_usage(self) -> openxr::SwapchainUsageFlags {
        let attachment = match self {
            Self::Colour => openxr::SwapchainUsageFlags::COLOR_ATTACHMENT,
            Self::Depth => openxr::SwapchainUsageFlags::DEPTH_STENCIL_ATTACHMENT,
        };
        attachment | openxr::SwapchainUsageFlags::TRANSFER_SRC
    }
}
