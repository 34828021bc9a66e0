//! The frame loop: wait → begin → locate views → app state and scene → render both eyes into
//! the swapchain image (one multiview pass when the device has it) → release → end with a
//! projection layer. Nothing here waits on network, disk or QR work: the guide's assets are
//! read through the package (memory or its folder) by the renderer once per asset.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glam::{Mat4, Vec3};
use openxr as xr;

use super::binding::GraphicsBinding;
use super::input::{Input, pose};
use super::instance::{self, Context};
use super::session::{SessionMachine, Step, state_name};
use super::{RunOptions, RunReport, XrError};
use crate::app::{App, View};
use crate::render::{EyeView, EyeViews, Renderer, Targets, gpu};
use crate::scene::{CardFollower, Frame, Pose, SceneInput};
use crate::xr::pointer::{Dwell, Ray, hit_button};
use crate::xr::script::{Command, Player};

const STEREO: xr::ViewConfigurationType = xr::ViewConfigurationType::PRIMARY_STEREO;
const NEAR: f32 = 0.05;
const FAR: f32 = 100.0;
/// Sessions re-created after LOSS_PENDING before giving up.
const MAX_SESSIONS: u32 = 3;

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

fn to_pose(p: xr::Posef) -> Pose {
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

/// CPU time of the calling thread (what our code costs, not what lavapipe's threads do).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How the session ended.
enum Ended {
    Exited,
    Lost,
}

/// Everything that outlives one session: the app, the renderer (and its uploaded assets).
struct Shared {
    app: App,
    renderer: Option<(Renderer, wgpu::TextureFormat)>,
    follower: CardFollower,
    dwell: Dwell,
    player: Player,
    all_list: bool,
    step_started: Option<xr::Time>,
    last_time: Option<xr::Time>,
    last_frame: Option<Frame>,
    head: Pose,
    exit_asked: bool,
}

pub fn run<B: GraphicsBinding>(options: RunOptions) -> Result<RunReport, XrError> {
    options.heartbeat.beat();
    let context = Context::create::<B>()?;
    options.heartbeat.beat();
    let graphics = B::create(&context.instance, context.system)?;
    options.heartbeat.beat();
    tracing::info!("rendering on {}", graphics.describe());
    let wgpu_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = wgpu_errors.clone();
    graphics
        .device()
        .on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            tracing::error!("wgpu: {error}");
            if let Ok(mut list) = sink.lock() {
                list.push(error.to_string());
            }
        }));

    let mut report = RunReport {
        runtime: context.runtime.clone(),
        system: context.system_name.clone(),
        graphics: graphics.describe(),
        extensions: context.enabled_names.clone(),
        blend_mode: instance::blend_mode_name(context.blend_mode).to_owned(),
        ..RunReport::default()
    };
    let guide = Arc::new(options.package.guide.clone());
    let mut shared = Shared {
        app: App::open(guide, options.source, options.start_step),
        renderer: None,
        follower: CardFollower::default(),
        dwell: Dwell::new(options.dwell.as_secs_f32()),
        player: Player::new(options.script.clone()),
        all_list: false,
        step_started: None,
        last_time: None,
        last_frame: None,
        head: Pose::standing(),
        exit_asked: false,
    };
    let mut machine = SessionMachine::new();
    let result = loop {
        report.sessions += 1;
        match run_session::<B>(
            &context,
            &graphics,
            &options,
            &mut shared,
            &mut machine,
            &mut report,
        ) {
            Ok(Ended::Exited) => break Ok(()),
            Ok(Ended::Lost) if report.sessions < MAX_SESSIONS => {
                tracing::warn!("the session was lost; waiting for the system to come back");
                if let Err(e) = wait_for_system(&context, &options) {
                    break Err(e);
                }
                machine = SessionMachine::new();
            }
            Ok(Ended::Lost) => {
                break Err(XrError::SessionLost(format!(
                    "lost {} times",
                    report.sessions
                )));
            }
            Err(e) => break Err(e),
        }
    };
    // Let the GPU finish before anything it uses goes away.
    let _ = graphics.device().poll(wgpu::PollType::wait_indefinitely());
    report.transitions = machine.history().iter().map(|s| (*s).to_owned()).collect();
    report.final_screen = describe(&shared.app.view());
    report.wgpu_errors = wgpu_errors.lock().map(|l| l.clone()).unwrap_or_default();
    drop(shared);
    drop(graphics);
    result.map(|()| report)
}

/// After LOSS_PENDING: the system may come back (a runtime restarting); poll for it a while.
fn wait_for_system(context: &Context, options: &RunOptions) -> Result<(), XrError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        options.heartbeat.beat();
        match context
            .instance
            .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
        {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(XrError::SessionLost(format!(
                    "the system did not come back within 10 s ({e})"
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn describe(view: &View<'_>) -> String {
    match view {
        View::Step(step) => format!("step {} of {}", step.step_number, step.step_count),
        View::Complete { .. } => "complete".to_owned(),
    }
}

struct Swapchain<B: GraphicsBinding> {
    handle: xr::Swapchain<B::Api>,
    textures: Vec<wgpu::Texture>,
    /// Per image: one view per eye (layer), and the 2-layer view for multiview.
    eye_views: Vec<[wgpu::TextureView; 2]>,
    layered_views: Vec<wgpu::TextureView>,
    width: u32,
    height: u32,
}

fn create_swapchain<B: GraphicsBinding>(
    session: &xr::Session<B::Api>,
    graphics: &B,
    format: <B::Api as xr::Graphics>::Format,
    wgpu_format: wgpu::TextureFormat,
    (width, height): (u32, u32),
) -> Result<Swapchain<B>, XrError> {
    let handle = session
        .create_swapchain(&xr::SwapchainCreateInfo {
            create_flags: xr::SwapchainCreateFlags::EMPTY,
            usage_flags: xr::SwapchainUsageFlags::COLOR_ATTACHMENT
                | xr::SwapchainUsageFlags::TRANSFER_SRC,
            format,
            sample_count: 1,
            width,
            height,
            face_count: 1,
            array_size: 2,
            mip_count: 1,
        })
        .map_err(|e| XrError::call("xrCreateSwapchain", e))?;
    let images = handle
        .enumerate_images()
        .map_err(|e| XrError::call("xrEnumerateSwapchainImages", e))?;
    let mut textures = Vec::with_capacity(images.len());
    for image in images {
        // SAFETY: the image belongs to `handle`, created above with this format, size, two
        // layers and colour-attachment + transfer-source usage; the textures are dropped
        // before the swapchain (field order of `Swapchain`, and `run_session`'s clean-up).
        textures.push(unsafe { graphics.wrap_image(image, wgpu_format, width, height, 2)? });
    }
    let eye_views = textures
        .iter()
        .map(|t| {
            [0, 1].map(|layer| {
                t.create_view(&wgpu::TextureViewDescriptor {
                    label: Some("XR eye"),
                    dimension: Some(wgpu::TextureViewDimension::D2),
                    base_array_layer: layer,
                    array_layer_count: Some(1),
                    ..Default::default()
                })
            })
        })
        .collect();
    let layered_views = textures
        .iter()
        .map(|t| {
            t.create_view(&wgpu::TextureViewDescriptor {
                label: Some("XR both eyes"),
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                ..Default::default()
            })
        })
        .collect();
    Ok(Swapchain {
        handle,
        textures,
        eye_views,
        layered_views,
        width,
        height,
    })
}

/// Draws the opening frame once into an offscreen target before the session runs: the driver
/// compiles its pipelines and the renderer paints the card's text at first use, which would
/// otherwise make the first frames miss their display time.
fn warm_up<B: GraphicsBinding>(
    graphics: &B,
    shared: &mut Shared,
    options: &RunOptions,
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
    let view = shared.app.view();
    let input = SceneInput {
        view: &view,
        online: options.online,
        all_list: None,
        status: None,
        head: shared.head,
        anchors: &[],
        step_time_s: 0.0,
    };
    // A throwaway follower: the real one is placed by the first located head pose.
    let frame = Frame::build(&input, &mut CardFollower::default(), 0.0);
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
    let package = &options.package;
    let read = |path: &str| package.read_asset(path).map_err(|e| e.to_string());
    renderer.draw(&mut encoder, &frame, &targets, &read)?;
    graphics.queue().submit([encoder.finish()]);
    let _ = graphics.device().poll(wgpu::PollType::wait_indefinitely());
    Ok(())
}

/// Loads and uploads every hologram of the guide before the first frame: reading and decoding
/// a model inside the frame loop would miss frames on the step that first shows it. A broken
/// asset is logged once here and left out when its step shows.
fn preload_assets(renderer: &mut Renderer, options: &RunOptions) {
    let package = &options.package;
    let read = |path: &str| package.read_asset(path).map_err(|e| e.to_string());
    let assets = package
        .guide
        .tasks
        .iter()
        .flat_map(|t| &t.steps)
        .flat_map(|s| &s.holograms)
        .map(|h| h.asset.as_str());
    for asset in assets {
        // The renderer logs a failure once and remembers it; nothing else to do here.
        let _ = renderer.prepare_asset(asset, &read);
        options.heartbeat.beat();
    }
}

fn choose_reference_space(
    offered: &[xr::ReferenceSpaceType],
    unbounded_enabled: bool,
) -> (xr::ReferenceSpaceType, &'static str) {
    use xr::ReferenceSpaceType as R;
    if unbounded_enabled && offered.contains(&R::UNBOUNDED_MSFT) {
        (R::UNBOUNDED_MSFT, "UNBOUNDED_MSFT")
    } else if offered.contains(&R::LOCAL) || !offered.contains(&R::STAGE) {
        (R::LOCAL, "LOCAL")
    } else {
        (R::STAGE, "STAGE")
    }
}

fn run_session<B: GraphicsBinding>(
    context: &Context,
    graphics: &B,
    options: &RunOptions,
    shared: &mut Shared,
    machine: &mut SessionMachine,
    report: &mut RunReport,
) -> Result<Ended, XrError> {
    let instance = &context.instance;
    // SAFETY: the session-create info names the device `graphics` created through this
    // runtime for this system; the device outlives the session (dropped after it in `run`).
    let (session, mut waiter, mut stream) = unsafe {
        instance.create_session::<B::Api>(context.system, &graphics.session_create_info())
    }
    .map_err(|e| XrError::call("xrCreateSession", e))?;
    options.heartbeat.beat();

    let offered = session
        .enumerate_swapchain_formats()
        .map_err(|e| XrError::call("xrEnumerateSwapchainFormats", e))?;
    let (format, wgpu_format) =
        B::pick_format(&offered).ok_or_else(|| XrError::NoSwapchainFormat {
            offered: offered
                .iter()
                .map(|f| B::format_name(*f))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let view = &context.views[0];
    let (width, height) = options.eye_size.unwrap_or((
        view.recommended_image_rect_width,
        view.recommended_image_rect_height,
    ));
    let size = (
        width.clamp(16, view.max_image_rect_width.max(16)),
        height.clamp(16, view.max_image_rect_height.max(16)),
    );
    let renderer = match shared.renderer.take() {
        Some((renderer, f)) if f == wgpu_format => renderer,
        _ => {
            let mut renderer = Renderer::new(graphics.device(), graphics.queue(), wgpu_format, 1);
            preload_assets(&mut renderer, options);
            options.heartbeat.beat();
            renderer
        }
    };
    let multiview = renderer.supports_multiview();
    shared.renderer = Some((renderer, wgpu_format));
    let swapchain = create_swapchain::<B>(&session, graphics, format, wgpu_format, size)?;
    warm_up(
        graphics,
        shared,
        options,
        size,
        multiview,
        context.blend_mode,
    )?;
    options.heartbeat.beat();
    report.swapchain_format = format!("{wgpu_format:?}");
    report.eye_size = [swapchain.width, swapchain.height];
    report.multiview = multiview;

    let spaces = session
        .enumerate_reference_spaces()
        .map_err(|e| XrError::call("xrEnumerateReferenceSpaces", e))?;
    let unbounded = context.enabled.msft_unbounded_reference_space;
    let (space_type, space_name) = choose_reference_space(&spaces, unbounded);
    report.reference_space = space_name.to_owned();
    let space = session
        .create_reference_space(space_type, xr::Posef::IDENTITY)
        .map_err(|e| XrError::call("xrCreateReferenceSpace", e))?;
    let view_space = session
        .create_reference_space(xr::ReferenceSpaceType::VIEW, xr::Posef::IDENTITY)
        .map_err(|e| XrError::call("xrCreateReferenceSpace", e))?;
    let input = Input::new(instance, &session, &context.enabled_names)?;
    report.interaction_profiles = input.profiles.clone();
    tracing::info!(
        format = ?wgpu_format,
        width = swapchain.width,
        height = swapchain.height,
        multiview,
        space = space_name,
        "session created"
    );

    let mut frames = Frames {
        session: &session,
        swapchain,
        space: &space,
        view_space: &view_space,
        input: &input,
        multiview,
    };
    let mut events = xr::EventDataBuffer::new();
    let mut previous_display: Option<xr::Time> = None;
    let mut first_frame_at: Option<Instant> = None;
    let outcome = 'session: loop {
        options.heartbeat.beat();
        while let Some(event) = instance
            .poll_event(&mut events)
            .map_err(|e| XrError::call("xrPollEvent", e))?
        {
            match event {
                xr::Event::SessionStateChanged(change) => match machine.advance(change.state()) {
                    Step::Begin => {
                        session
                            .begin(STEREO)
                            .map_err(|e| XrError::call("xrBeginSession", e))?;
                    }
                    Step::End => {
                        session
                            .end()
                            .map_err(|e| XrError::call("xrEndSession", e))?;
                    }
                    Step::Exit => break 'session Ended::Exited,
                    Step::Recreate => break 'session Ended::Lost,
                    Step::Continue => {}
                },
                xr::Event::InstanceLossPending(_) => {
                    return Err(XrError::RuntimeLost {
                        call: "xrPollEvent (instance loss pending)",
                        result: xr::sys::Result::ERROR_INSTANCE_LOST,
                    });
                }
                xr::Event::EventsLost(lost) => {
                    tracing::warn!("the runtime dropped {} events", lost.lost_event_count());
                }
                _ => {}
            }
        }

        let ctrl_c = options.stop.load(Ordering::Relaxed);
        let enough_frames = options.frames.is_some_and(|n| report.frames_rendered >= n);
        let enough_time = options
            .duration
            .zip(first_frame_at)
            .is_some_and(|(d, t)| t.elapsed() >= d);
        let wants_exit = ctrl_c || enough_frames || enough_time || shared.exit_asked;
        if wants_exit && !machine.ever_ran() {
            // Stopped before the runtime made the session ready: nothing to wind down.
            report.ended_because = "stopped before the session ran".to_owned();
            break Ended::Exited;
        }
        if wants_exit && machine.is_running() && report.ended_because.is_empty() {
            report.ended_because = if ctrl_c {
                "interrupted (Ctrl-C)"
            } else if shared.exit_asked {
                "exit asked by input"
            } else {
                "frame or time limit reached"
            }
            .to_owned();
            tracing::info!(
                "asking the runtime to end the session: {}",
                report.ended_because
            );
            session
                .request_exit()
                .map_err(|e| XrError::call("xrRequestExitSession", e))?;
        }
        if !machine.is_running() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }

        let frame_state = waiter.wait().map_err(|e| XrError::call("xrWaitFrame", e))?;
        report.frames_waited += 1;
        let started_cpu = thread_cpu_time();
        let started_wall = Instant::now();
        let period = frame_state.predicted_display_period.as_nanos() as f64;
        report.display_period_ms = period / 1e6;
        if let Some(previous) = previous_display
            && period > 0.0
        {
            let gap = (frame_state.predicted_display_time.as_nanos() - previous.as_nanos()) as f64;
            let skipped = ((gap / period).round() as u64).saturating_sub(1);
            if skipped > 0 {
                report.frames_missed += skipped;
                report.missed_before_frame.push(report.frames_waited);
            }
        }
        previous_display = Some(frame_state.predicted_display_time);
        stream
            .begin()
            .map_err(|e| XrError::call("xrBeginFrame", e))?;
        report.frames_begun += 1;

        let rendered = if frame_state.should_render && machine.is_visible() {
            frames.render(
                frame_state.predicted_display_time,
                graphics,
                shared,
                options,
                machine.is_focused(),
                report.frames_rendered + 1,
                context.blend_mode,
                &mut stream,
                report,
            )?
        } else {
            false
        };
        if !rendered {
            stream
                .end(frame_state.predicted_display_time, context.blend_mode, &[])
                .map_err(|e| XrError::call("xrEndFrame", e))?;
        }
        report.frames_ended += 1;
        if rendered {
            report.frames_rendered += 1;
            if report.first_frame_unix_ms.is_none() {
                report.first_frame_unix_ms = Some(unix_ms());
                first_frame_at = Some(Instant::now());
            }
            report
                .frame_cpu_ms
                .push((thread_cpu_time() - started_cpu).as_secs_f64() * 1e3);
            report
                .frame_wall_ms
                .push(started_wall.elapsed().as_secs_f64() * 1e3);
        }
    };
    if report.ended_because.is_empty() {
        report.ended_because = "the runtime ended the session".to_owned();
    }
    tracing::info!(
        "session over ({}): {} frames waited, {} ended, last state {}",
        report.ended_because,
        report.frames_waited,
        report.frames_ended,
        state_name(machine.state())
    );
    // The GPU must be done with the images before the swapchain goes.
    let _ = graphics.device().poll(wgpu::PollType::wait_indefinitely());
    let Frames { swapchain, .. } = frames;
    drop(swapchain.layered_views);
    drop(swapchain.eye_views);
    drop(swapchain.textures);
    drop(swapchain.handle);
    Ok(outcome)
}

struct Frames<'a, B: GraphicsBinding> {
    session: &'a xr::Session<B::Api>,
    swapchain: Swapchain<B>,
    space: &'a xr::Space,
    view_space: &'a xr::Space,
    input: &'a Input,
    multiview: bool,
}

impl<B: GraphicsBinding> Frames<'_, B> {
    /// Renders one frame and ends it with a projection layer; false when the views could not
    /// be located (the frame is then ended empty by the caller).
    #[allow(clippy::too_many_arguments)]
    fn render(
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

        // Input: scripted commands for this frame, then the controllers, then head gaze.
        let mut commands: Vec<Command> = shared.player.due(frame_number).collect();
        if focused {
            let polled = self.input.poll(self.session, self.space, time)?;
            commands.extend(polled.commands.iter().copied());
            if polled.select
                && let (Some(ray), Some(frame)) = (polled.aim, shared.last_frame.as_ref())
                && let Some((action, _)) = hit_button(frame, ray)
            {
                commands.push(Command::Intent(crate::xr::intent_for(action)));
            }
        }
        let dt = shared.last_time.map_or(0.0, |t| {
            ((time.as_nanos() - t.as_nanos()) as f32 / 1e9).max(0.0)
        });
        shared.last_time = Some(time);
        if let Some(frame) = shared.last_frame.as_ref() {
            let gaze = Ray {
                origin: shared.head.position,
                direction: shared.head.orientation * Vec3::NEG_Z,
            };
            if let Some(action) = shared
                .dwell
                .update(hit_button(frame, gaze).map(|h| h.0), dt)
            {
                commands.push(Command::Intent(crate::xr::intent_for(action)));
            }
        }
        for command in commands {
            match command {
                Command::Intent(intent) => {
                    let moved = shared.app.handle(intent);
                    tracing::info!(?intent, "input: now on {}", describe(&shared.app.view()));
                    if moved != crate::app::Transition::Ignored {
                        shared.step_started = Some(time);
                    }
                }
                Command::Menu => shared.all_list = !shared.all_list,
                Command::Exit => shared.exit_asked = true,
            }
        }
        let step_started = *shared.step_started.get_or_insert(time);

        let view = shared.app.view();
        let titles = [shared.app.guide().title.clone()];
        let input = SceneInput {
            view: &view,
            online: options.online,
            all_list: shared.all_list.then_some(&titles[..]),
            status: None,
            head: shared.head,
            anchors: &[],
            step_time_s: (time.as_nanos() - step_started.as_nanos()) as f32 / 1e9,
        };
        let frame = Frame::build(&input, &mut shared.follower, dt);

        let image = self
            .swapchain
            .handle
            .acquire_image()
            .map_err(|e| XrError::call("xrAcquireSwapchainImage", e))? as usize;
        self.swapchain
            .handle
            .wait_image(xr::Duration::from_nanos(1_000_000_000))
            .map_err(|e| XrError::call("xrWaitSwapchainImage", e))?;
        let eyes = [eye_view(&views[0]), eye_view(&views[1])];
        let Some((renderer, format)) = shared.renderer.as_mut() else {
            return Ok(false);
        };
        let per_eye: Vec<&wgpu::TextureView> = self.swapchain.eye_views[image].iter().collect();
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
        let package = &options.package;
        let read = |path: &str| package.read_asset(path).map_err(|e| e.to_string());
        renderer.draw(&mut encoder, &frame, &targets, &read)?;
        graphics.queue().submit([encoder.finish()]);

        if let Some(capture) = &options.capture
            && capture.frame == frame_number
        {
            let texture = &self.swapchain.textures[image];
            capture_left_eye(graphics, texture, *format, &per_eye, capture)?;
            report.captured = Some(capture.out.clone());
        }
        self.swapchain
            .handle
            .release_image()
            .map_err(|e| XrError::call("xrReleaseSwapchainImage", e))?;

        let rect = xr::Rect2Di {
            offset: xr::Offset2Di { x: 0, y: 0 },
            extent: xr::Extent2Di {
                width: self.swapchain.width as i32,
                height: self.swapchain.height as i32,
            },
        };
        let projection_views = [0, 1].map(|eye| {
            xr::CompositionLayerProjectionView::new()
                .pose(views[eye].pose)
                .fov(views[eye].fov)
                .sub_image(
                    xr::SwapchainSubImage::new()
                        .swapchain(&self.swapchain.handle)
                        .image_array_index(eye as u32)
                        .image_rect(rect),
                )
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
        shared.last_frame = Some(frame);
        Ok(true)
    }
}

/// Copies layer 0 (the left eye) of the swapchain image to a PNG, then puts the image back in
/// the colour-attachment layout the runtime expects at release (an empty load/store pass).
fn capture_left_eye<B: GraphicsBinding>(
    graphics: &B,
    texture: &wgpu::Texture,
    format: wgpu::TextureFormat,
    per_eye: &[&wgpu::TextureView],
    capture: &super::Capture,
) -> Result<(), XrError> {
    let fail = |reason: String| XrError::Capture {
        frame: capture.frame,
        path: capture.out.clone(),
        reason,
    };
    let mut image = gpu::read_rgba(graphics.device(), graphics.queue(), texture, 0)
        .map_err(|e| fail(e.to_string()))?;
    if format == wgpu::TextureFormat::Bgra8UnormSrgb {
        for pixel in image.pixels_mut() {
            pixel.0.swap(0, 2);
        }
    }
    if let Some(parent) = capture.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    image.save(&capture.out).map_err(|e| fail(e.to_string()))?;
    let mut encoder = graphics
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("back to colour attachment"),
        });
    for view in per_eye {
        encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("back to colour attachment"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Load,
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
    }
    graphics.queue().submit([encoder.finish()]);
    tracing::info!(
        "captured frame {} to {}",
        capture.frame,
        capture.out.display()
    );
    Ok(())
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

    #[test]
    fn the_reference_space_is_unbounded_when_offered_else_local_else_stage() {
        use xr::ReferenceSpaceType as R;
        let all = [R::VIEW, R::LOCAL, R::STAGE, R::UNBOUNDED_MSFT];
        assert_eq!(choose_reference_space(&all, true).0, R::UNBOUNDED_MSFT);
        assert_eq!(choose_reference_space(&all, false).0, R::LOCAL);
        assert_eq!(
            choose_reference_space(&[R::VIEW, R::STAGE], false).0,
            R::STAGE
        );
    }
}
