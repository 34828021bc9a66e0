//! One frame: locate the eyes, apply input (script, controllers, gaze, QR stickers from a
//! camera or the runtime's own tracker), lay the scene out, draw both eyes into the acquired
//! swapchain image, release it and end the frame with a projection layer (each view with its
//! depth when `XR_KHR_composition_layer_depth` is on).
//! Also what runs once before the first frame (asset preload, warm-up).

use glam::Mat4;
use openxr as xr;

use super::binding::GraphicsBinding;
use super::frame::{STEREO, Shared};
use super::input::{Input, pose};
use super::instance;
use super::markers::Markers;
use super::swapchain::{Swapchain, capture_left_depth, capture_left_eye};
use super::{Heartbeat, RunOptions, RunReport, XrError};
use crate::app::device::Content;
use crate::app::driver::{self, Effect};
use crate::app::pointer::Ray;
use crate::app::report::Cause;
use crate::render::{DepthViews, EyeView, EyeViews, Renderer, Targets, gpu};
use crate::scene::Pose;

const NEAR: f32 = 0.05;
const FAR: f32 = 100.0;

/// An asymmetric perspective projection from OpenXR's field-of-view angles: right-handed,
/// looking along -Z, depth 0..1 (wgpu's clip space), as glam's `perspective_rh`.
pub fn projection(fov: xr::Fovf, near: f32, far: f32) -> Mat4 {
    let left = fov.angle_left.tan() * near;
    let right = fov.angle_right.tan() * near;
    let down = fov.angle_down.tan() * near;
    let up = fov.angle_up.tan() * near;
    let width = right - left;
    let height = up - down;
    Mat4::from_cols_array(&[
        2.0 * near / width,
        0.0,
        0.0,
        0.0,
        0.0,
        2.0 * near / height,
        0.0,
        0.0,
        (right + left) / width,
        (up + down) / height,
        far / (near - far),
        -1.0,
        0.0,
        0.0,
        near * far / (near - far),
        0.0,
    ])
}

pub(super) fn to_pose(p: xr::Posef) -> Pose {
    let (position, orientation) = pose(p);
    Pose {
        position,
        orientation,
    }
}

fn eye_view(view: &xr::View) -> EyeView {
    let pose = to_pose(view.pose);
    EyeView {
        view: pose.to_matrix().inverse(),
        projection: projection(view.fov, NEAR, FAR),
        position: pose.position,
    }
}

/// Draws the opening frame once into an offscreen target before the session runs: the driver
/// compiles its pipelines and the renderer paints the card's text at first use, which would
/// otherwise make the first frames miss their display time.
pub(super) fn warm_up<B: GraphicsBinding>(
    graphics: &B,
    shared: &mut Shared,
    (width, height): (u32, u32),
    multiview: bool,
    blend_mode: xr::EnvironmentBlendMode,
) -> Result<(), XrError> {
    let Some((renderer, format)) = shared.renderer.as_mut() else {
        return Ok(());
    };
    let texture = gpu::offscreen_target(graphics.device(), width, height, 2, *format);
    let layered = texture.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    });
    let per_eye = [0, 1].map(|layer| {
        texture.create_view(&wgpu::TextureViewDescriptor {
            dimension: Some(wgpu::TextureViewDimension::D2),
            base_array_layer: layer,
            array_layer_count: Some(1),
            ..Default::default()
        })
    });
    let per_eye: Vec<&wgpu::TextureView> = per_eye.iter().collect();
    // Not a frame of the run: the driver's card is placed by the first located head pose.
    let frame = shared.driver.preview(shared.head);
    let eye = EyeView::from_pose(shared.head, 90.0, width as f32 / height as f32);
    let targets = Targets {
        eyes: &[eye, eye],
        views: if multiview {
            EyeViews::Layered(&layered)
        } else {
            EyeViews::PerEye(&per_eye)
        },
        width,
        height,
        clear: instance::clear_colour(blend_mode),
    };
    let mut encoder = graphics
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("warm-up"),
        });
    // After a choice in the All list (and a lost session since), the chosen guide's files.
    let content = shared.driver.content();
    let read = |path: &str| content.read_asset(path);
    renderer.draw(&mut encoder, &frame, &targets, &read)?;
    graphics.queue().submit([encoder.finish()]);
    let _ = graphics.device().poll(wgpu::PollType::wait_indefinitely());
    Ok(())
}

/// Loads and uploads every hologram of the guide before the first frame: reading and decoding
/// a model inside the frame loop would miss frames on the step that first shows it. A broken
/// asset is logged once here and left out when its step shows.
pub(super) fn preload_assets(renderer: &mut Renderer, content: &Content, heartbeat: &Heartbeat) {
    let read = |path: &str| content.read_asset(path);
    let assets = content
        .guide
        .tasks
        .iter()
        .flat_map(|t| &t.steps)
        .flat_map(|s| &s.holograms)
        .map(|h| h.asset.as_str());
    for asset in assets {
        // The renderer logs a failure once and remembers it; nothing else to do here.
        let _ = renderer.prepare_asset(asset, &read);
        heartbeat.beat();
    }
}

pub(super) struct Frames<'a, B: GraphicsBinding> {
    pub(super) session: &'a xr::Session<B::Api>,
    pub(super) swapchain: Swapchain<B>,
    /// The depth swapchain, shaped like `swapchain`, when the depth layer is on.
    pub(super) depth: Option<Swapchain<B>>,
    pub(super) space: &'a xr::Space,
    pub(super) view_space: &'a xr::Space,
    pub(super) input: &'a mut Input,
    /// QR stickers the runtime tracks itself, where it does.
    pub(super) markers: Markers,
    pub(super) multiview: bool,
    /// How long the last frame's release + xrEndFrame blocked: Monado's Vulkan client waits
    /// there for the GPU (vkQueueWaitIdle when it cannot share a fence or semaphore, as with
    /// lavapipe), so this is the rasterising time of the frame on a software device.
    pub(super) last_end: std::time::Duration,
}

impl<B: GraphicsBinding> Frames<'_, B> {
    /// Renders one frame and ends it with a projection layer; false when the views could not
    /// be located (the frame is then ended empty by the caller).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn render(
        &mut self,
        time: xr::Time,
        graphics: &B,
        shared: &mut Shared,
        options: &RunOptions,
        focused: bool,
        frame_number: u64,
        blend_mode: xr::EnvironmentBlendMode,
        stream: &mut xr::FrameStream<B::Api>,
        report: &mut RunReport,
    ) -> Result<bool, XrError> {
        let (flags, views) = self
            .session
            .locate_views(STEREO, time, self.space)
            .map_err(|e| XrError::call("xrLocateViews", e))?;
        let tracked = flags.contains(xr::ViewStateFlags::ORIENTATION_VALID)
            && flags.contains(xr::ViewStateFlags::POSITION_VALID);
        if !tracked || views.len() != 2 {
            return Ok(false);
        }
        let head = self
            .view_space
            .locate(self.space, time)
            .map_err(|e| XrError::call("xrLocateSpace", e))?;
        if head.location_flags.contains(
            xr::SpaceLocationFlags::POSITION_VALID | xr::SpaceLocationFlags::ORIENTATION_VALID,
        ) {
            shared.head = to_pose(head.pose);
        }
        tracing::trace!(frame = frame_number, head = ?shared.head, "located");

        // Input: the controllers (a select points its ray); scripted input and head-gaze dwell
        // are the driver's, applied as it builds the frame.
        if focused {
            let polled = self.input.poll(self.session, self.space, time)?;
            report.frames_with_aim += u64::from(polled.aim.is_some());
            for command in polled.commands.iter().cloned() {
                shared
                    .driver
                    .input(driver::Input::Command(command, Cause::Controller));
            }
            // A hand without an aim pose points from the head through its pinch (as a
            // HoloLens hand ray roughly does).
            let ray = polled.aim.or(polled.pinch_point.map(|point| Ray {
                origin: shared.head.position,
                direction: point - shared.head.position,
            }));
            if polled.select
                && let Some(ray) = ray
            {
                shared.driver.input(driver::Input::Select(ray));
            }
        }
        let dt = shared.last_time.map_or(0.0, |t| {
            ((time.as_nanos() - t.as_nanos()) as f32 / 1e9).max(0.0)
        });
        shared.last_time = Some(time);
        if let Some(camera) = &options.camera {
            shared.driver.collect_sightings(camera);
        }
        for sighting in self.markers.poll(self.space, time, shared.head) {
            shared.driver.runtime_sighting(sighting);
        }
        shared.driver.runtime_tracks_stickers(self.markers.is_on());
        shared.driver.frame(shared.head, dt);
        for effect in shared.driver.take_effects() {
            match effect {
                Effect::SwapAssets => {
                    if let Some((renderer, _)) = shared.renderer.as_mut() {
                        // Its files may share paths with the last guide's. The bytes are in
                        // memory already; parsing and uploading them costs this one frame.
                        renderer.forget_assets();
                        preload_assets(renderer, shared.driver.content(), &options.heartbeat);
                    }
                }
            }
        }
        // Observations are in the driver's report; the log has them as they happened.
        shared.driver.take_observations();
        let Some(frame) = shared.driver.last_frame() else {
            return Ok(false);
        };

        let image = self
            .swapchain
            .handle
            .acquire_image()
            .map_err(|e| XrError::call("xrAcquireSwapchainImage", e))? as usize;
        self.swapchain
            .handle
            .wait_image(xr::Duration::from_nanos(1_000_000_000))
            .map_err(|e| XrError::call("xrWaitSwapchainImage", e))?;
        let depth_image = match self.depth.as_mut() {
            Some(depth) => {
                let index = depth
                    .handle
                    .acquire_image()
                    .map_err(|e| XrError::call("xrAcquireSwapchainImage (depth)", e))?
                    as usize;
                depth
                    .handle
                    .wait_image(xr::Duration::from_nanos(1_000_000_000))
                    .map_err(|e| XrError::call("xrWaitSwapchainImage (depth)", e))?;
                Some(index)
            }
            None => None,
        };
        let eyes = [eye_view(&views[0]), eye_view(&views[1])];
        let Some((renderer, format)) = shared.renderer.as_mut() else {
            return Ok(false);
        };
        let per_eye: Vec<&wgpu::TextureView> = self.swapchain.eye_views[image].iter().collect();
        let depth_per_eye: Vec<&wgpu::TextureView> = self
            .depth
            .as_ref()
            .zip(depth_image)
            .map(|(d, i)| d.eye_views[i].iter().collect())
            .unwrap_or_default();
        let depth_views = self.depth.as_ref().zip(depth_image).map(|(d, i)| {
            if self.multiview {
                DepthViews::Layered(&d.layered_views[i])
            } else {
                DepthViews::PerEye(&depth_per_eye)
            }
        });
        let targets = Targets {
            eyes: &eyes,
            views: if self.multiview {
                EyeViews::Layered(&self.swapchain.layered_views[image])
            } else {
                EyeViews::PerEye(&per_eye)
            },
            width: self.swapchain.width,
            height: self.swapchain.height,
            clear: instance::clear_colour(blend_mode),
        };
        let mut encoder =
            graphics
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("XR frame"),
                });
        let content = shared.driver.content();
        let read = |path: &str| content.read_asset(path);
        renderer.draw_with_depth(&mut encoder, frame, &targets, depth_views.as_ref(), &read)?;
        graphics.queue().submit([encoder.finish()]);

        if let Some(capture) = &options.capture
            && capture.frame == frame_number
        {
            let texture = &self.swapchain.textures[image];
            capture_left_eye(graphics, texture, *format, &per_eye, capture)?;
            report.captured = Some(capture.out.clone());
            if let (Some(depth), Some(index)) = (self.depth.as_ref(), depth_image) {
                let texture = &depth.textures[index];
                let out = capture_left_depth(graphics, texture, &depth_per_eye, capture)?;
                report.captured_depth = Some(out);
            }
        }
        let releasing = std::time::Instant::now();
        self.swapchain
            .handle
            .release_image()
            .map_err(|e| XrError::call("xrReleaseSwapchainImage", e))?;
        if let Some(depth) = self.depth.as_mut() {
            depth
                .handle
                .release_image()
                .map_err(|e| XrError::call("xrReleaseSwapchainImage (depth)", e))?;
        }

        let rect = xr::Rect2Di {
            offset: xr::Offset2Di { x: 0, y: 0 },
            extent: xr::Extent2Di {
                width: self.swapchain.width as i32,
                height: self.swapchain.height as i32,
            },
        };
        // XR_KHR_composition_layer_depth: each eye's depth (same rect and layer as its colour),
        // with the near/far planes and 0..1 range `projection` maps depth to.
        let depth_infos = self.depth.as_ref().map(|depth| {
            [0, 1].map(|eye| xr::sys::CompositionLayerDepthInfoKHR {
                ty: xr::sys::CompositionLayerDepthInfoKHR::TYPE,
                next: std::ptr::null(),
                sub_image: xr::SwapchainSubImage::<B::Api>::new()
                    .swapchain(&depth.handle)
                    .image_array_index(eye as u32)
                    .image_rect(rect)
                    .into_raw(),
                min_depth: 0.0,
                max_depth: 1.0,
                near_z: NEAR,
                far_z: FAR,
            })
        });
        let projection_views = [0, 1].map(|eye| {
            let view = xr::CompositionLayerProjectionView::new()
                .pose(views[eye].pose)
                .fov(views[eye].fov)
                .sub_image(
                    xr::SwapchainSubImage::new()
                        .swapchain(&self.swapchain.handle)
                        .image_array_index(eye as u32)
                        .image_rect(rect),
                );
            match &depth_infos {
                Some(infos) => {
                    let mut raw = view.into_raw();
                    raw.next = std::ptr::from_ref(&infos[eye]).cast();
                    // SAFETY: `raw` came from the builder; the depth info it now points at lives
                    // in `depth_infos` until after xrEndFrame below, and names a swapchain of
                    // this session that outlives the call.
                    unsafe { xr::CompositionLayerProjectionView::from_raw(raw) }
                }
                None => view,
            }
        });
        let mut layer = xr::CompositionLayerProjection::new()
            .space(self.space)
            .views(&projection_views);
        if blend_mode == xr::EnvironmentBlendMode::ALPHA_BLEND {
            layer = layer.layer_flags(xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA);
        }
        stream
            .end(time, blend_mode, &[&layer])
            .map_err(|e| XrError::call("xrEndFrame", e))?;
        self.last_end = releasing.elapsed();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symmetric_field_of_view_projects_as_glam_perspective() {
        let half = 45f32.to_radians();
        let fov = xr::Fovf {
            angle_left: -half,
            angle_right: half,
            angle_up: half,
            angle_down: -half,
        };
        let ours = projection(fov, NEAR, FAR);
        let glam = Mat4::perspective_rh(2.0 * half, 1.0, NEAR, FAR);
        assert!(ours.abs_diff_eq(glam, 1e-5), "{ours:?} vs {glam:?}");
    }

    #[test]
    fn an_asymmetric_field_of_view_maps_its_edges_to_the_clip_edges() {
        let fov = xr::Fovf {
            angle_left: -0.9,
            angle_right: 0.6,
            angle_up: 0.7,
            angle_down: -0.8,
        };
        let m = projection(fov, NEAR, FAR);
        let edge = |x: f32, y: f32| {
            let p = m * glam::Vec4::new(x, y, -1.0, 1.0);
            (p.x / p.w, p.y / p.w)
        };
        let (left, _) = edge(-0.9f32.tan(), 0.0);
        let (right, _) = edge(0.6f32.tan(), 0.0);
        let (_, up) = edge(0.0, 0.7f32.tan());
        let (_, down) = edge(0.0, -0.8f32.tan());
        for (got, want) in [(left, -1.0), (right, 1.0), (up, 1.0), (down, -1.0)] {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }
}
