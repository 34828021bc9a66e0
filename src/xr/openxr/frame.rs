//! The frame loop: wait → begin → locate views → app state and scene → render both eyes into
//! the swapchain image (one multiview pass when the device has it) → release → end with a
//! projection layer ([`super::draw`] does one frame). Nothing here waits on network, disk or QR
//! work: the guide's holograms are loaded before the session starts.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openxr as xr;

use super::binding::{GraphicsBinding, ImageUse};
use super::draw::{Frames, preload_assets, warm_up};
use super::input::Input;
use super::instance::{self, Context};
use super::loss::{Ended, Next, SYSTEM_POLL, SYSTEM_TRIES, after_session, wait_for_system};
use super::markers::Markers;
use super::session::{SessionMachine, Step, state_name};
use super::swapchain::create_swapchain;
use super::{RunOptions, RunReport, XrError};
use crate::app::driver::Driver;
use crate::render::Renderer;
use crate::scene::Pose;

pub(super) const STEREO: xr::ViewConfigurationType = xr::ViewConfigurationType::PRIMARY_STEREO;
/// Frame timings kept for the report.
const MAX_TIMINGS: usize = 72_000;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Everything that outlives one session: the app, the renderer (and its uploaded assets).
pub(super) struct Shared {
    pub(super) driver: Driver,
    pub(super) renderer: Option<(Renderer, wgpu::TextureFormat)>,
    pub(super) last_time: Option<xr::Time>,
    pub(super) head: Pose,
}

pub fn run<B: GraphicsBinding>(driver: Driver, options: RunOptions) -> Result<RunReport, XrError> {
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
    let mut shared = Shared {
        driver,
        renderer: None,
        last_time: None,
        head: Pose::standing(),
    };
    let mut machine = SessionMachine::new();
    let result = loop {
        report.sessions += 1;
        let ended = match run_session::<B>(
            &context,
            &graphics,
            &options,
            &mut shared,
            &mut machine,
            &mut report,
        ) {
            Ok(ended) => ended,
            Err(e) => break Err(e),
        };
        match after_session(ended, report.sessions) {
            Next::Finish => break Ok(()),
            Next::Recreate => {
                tracing::warn!("the session was lost; waiting for the system to come back");
                let system = || {
                    context
                        .instance
                        .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                let beat = || options.heartbeat.beat();
                if let Err(e) = wait_for_system(system, SYSTEM_TRIES, SYSTEM_POLL, beat) {
                    break Err(e);
                }
                machine.restart();
            }
            Next::GiveUp(reason) => break Err(XrError::SessionLost(reason)),
        }
    };
    // Let the GPU finish before anything it uses goes away.
    let _ = graphics.device().poll(wgpu::PollType::wait_indefinitely());
    report.transitions = machine.history().iter().map(|s| (*s).to_owned()).collect();
    report.app = shared.driver.report();
    report.wgpu_errors = wgpu_errors.lock().map(|l| l.clone()).unwrap_or_default();
    drop(shared);
    drop(graphics);
    result.map(|()| report)
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

/// The app's world has its floor at y = 0 in every shell (the window and headless stand the
/// head at [`Pose::standing`]'s eye height; room files put stickers and machines above that
/// floor). STAGE's origin is on the floor already; LOCAL's and UNBOUNDED's are where the head
/// was when the space was made, so the world's origin goes a standing eye height below it (the
/// estimate OpenXR itself gives for LOCAL_FLOOR when a runtime knows no better).
fn world_origin_in(space: xr::ReferenceSpaceType) -> xr::Posef {
    use xr::ReferenceSpaceType as R;
    let below = if space == R::STAGE {
        0.0
    } else {
        -Pose::standing().position.y
    };
    xr::Posef {
        orientation: xr::Quaternionf::IDENTITY,
        position: xr::Vector3f {
            x: 0.0,
            y: below,
            z: 0.0,
        },
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
    if size != (width, height) {
        tracing::warn!(
            "eye size {width}x{height} is outside what the runtime allows (16x16 to {}x{}); using {}x{}",
            view.max_image_rect_width,
            view.max_image_rect_height,
            size.0,
            size.1
        );
    }
    let renderer = match shared.renderer.take() {
        Some((renderer, f)) if f == wgpu_format => renderer,
        _ => {
            let mut renderer = Renderer::new(graphics.device(), graphics.queue(), wgpu_format, 1);
            renderer.adapt_to(graphics.adapter_info());
            preload_assets(&mut renderer, shared.driver.content(), &options.heartbeat);
            options.heartbeat.beat();
            renderer
        }
    };
    let multiview = renderer.supports_multiview();
    shared.renderer = Some((renderer, wgpu_format));
    let swapchain = create_swapchain::<B>(
        &session,
        graphics,
        format,
        wgpu_format,
        size,
        ImageUse::Colour,
    )?;
    let depth = if context.enabled.khr_composition_layer_depth {
        match B::pick_depth_format(&offered) {
            Some((depth_format, wgpu_depth)) => {
                let depth = create_swapchain::<B>(
                    &session,
                    graphics,
                    depth_format,
                    wgpu_depth,
                    size,
                    ImageUse::Depth,
                )?;
                tracing::info!(
                    format = ?wgpu_depth,
                    "depth layer on: each projection view carries its depth (XR_KHR_composition_layer_depth)"
                );
                report.depth_format = format!("{wgpu_depth:?}");
                Some(depth)
            }
            None => {
                tracing::info!(
                    "depth layer off: the runtime offers no 32-bit float depth swapchain format"
                );
                None
            }
        }
    } else {
        tracing::info!("depth layer off: the runtime has no XR_KHR_composition_layer_depth");
        None
    };
    report.depth_layer = depth.is_some();
    warm_up(graphics, shared, size, multiview, context.blend_mode)?;
    options.heartbeat.beat();
    report.swapchain_format = format!("{wgpu_format:?}");
    report.eye_size = [swapchain.width, swapchain.height];
    report.multiview = multiview;

    let spaces = session
        .enumerate_reference_spaces()
        .map_err(|e| XrError::call("xrEnumerateReferenceSpaces", e))?;
    let unbounded = context.enabled.msft_unbounded_reference_space;
    let (space_type, space_name) = choose_reference_space(&spaces, unbounded);
    tracing::info!(offered = ?spaces, chosen = space_name, "reference space");
    report.reference_space = space_name.to_owned();
    let space = session
        .create_reference_space(space_type, world_origin_in(space_type))
        .map_err(|e| XrError::call("xrCreateReferenceSpace", e))?;
    let view_space = session
        .create_reference_space(xr::ReferenceSpaceType::VIEW, xr::Posef::IDENTITY)
        .map_err(|e| XrError::call("xrCreateReferenceSpace", e))?;
    if context.enabled.fb_display_refresh_rate {
        // Logged for testers; the frame loop follows xrWaitFrame's pacing whatever the rate.
        match (
            session.get_display_refresh_rate(),
            session.enumerate_display_refresh_rates(),
        ) {
            (Ok(rate), Ok(rates)) => tracing::info!(rate, ?rates, "display refresh rate (Hz)"),
            (Err(e), _) | (_, Err(e)) => tracing::warn!("display refresh rate unknown: {e}"),
        }
    }
    let mut input = Input::new(instance, context.system, &session, &context.enabled_names)?;
    report.interaction_profiles = input.profiles.clone();
    report.hand_tracking = input.hand_tracking();
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
        depth,
        space: &space,
        view_space: &view_space,
        input: &mut input,
        markers: Markers::start(context, session.as_raw()),
        multiview,
        last_end: Duration::ZERO,
    };
    let mut events = xr::EventDataBuffer::new();
    let mut previous_display: Option<xr::Time> = None;
    let mut first_display: Option<xr::Time> = None;
    let mut waited_here = 0u64;
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
                xr::Event::InteractionProfileChanged(_) => {
                    report.active_profiles = frames.input.current_profiles(instance, &session)?;
                    tracing::info!(profiles = ?report.active_profiles, "interaction profiles");
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
        let exit_asked = shared.driver.exit_asked();
        let wants_exit = ctrl_c || enough_frames || enough_time || exit_asked;
        if wants_exit && !machine.ever_ran() {
            // Stopped before the runtime made the session ready: nothing to wind down.
            report.ended_because = "stopped before the session ran".to_owned();
            break Ended::Exited;
        }
        if wants_exit && machine.is_running() && report.ended_because.is_empty() {
            report.ended_because = if ctrl_c {
                "interrupted (Ctrl-C)"
            } else if exit_asked {
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
        let started_cpu = crate::clock::thread_cpu_time();
        let started_wall = Instant::now();
        let period = frame_state.predicted_display_period.as_nanos() as f64;
        report.display_period_ms = period / 1e6;
        if let Some(previous) = previous_display
            && period > 0.0
        {
            let gap = (frame_state.predicted_display_time.as_nanos() - previous.as_nanos()) as f64;
            if gap / period >= 1.5 {
                report.missed_before_frame.push(report.frames_waited);
            }
        }
        previous_display = Some(frame_state.predicted_display_time);
        first_display.get_or_insert(frame_state.predicted_display_time);
        waited_here += 1;
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
            // Per-frame timings feed `bench xr`; an app left running for hours keeps only the
            // first hour's worth (at 20 Hz), not an ever-growing list.
            if report.frame_cpu_ms.len() < MAX_TIMINGS {
                report
                    .frame_cpu_ms
                    .push((crate::clock::thread_cpu_time() - started_cpu).as_secs_f64() * 1e3);
                report
                    .frame_wall_ms
                    .push(started_wall.elapsed().as_secs_f64() * 1e3);
                report
                    .frame_end_ms
                    .push(frames.last_end.as_secs_f64() * 1e3);
            }
        }
    };
    if report.ended_because.is_empty() {
        report.ended_because = "the runtime ended the session".to_owned();
    }
    // Display periods from the first predicted display time to the last, against frames
    // waited: a late frame shifts later predictions by fractions of a period, which gaps
    // between consecutive frames alone would round away.
    if let (Some(first), Some(last)) = (first_display, previous_display)
        && report.display_period_ms > 0.0
    {
        let span_ms = (last.as_nanos() - first.as_nanos()) as f64 / 1e6;
        let predicted = (span_ms / report.display_period_ms).round() as u64 + 1;
        report.frames_predicted += predicted;
        report.frames_missed += predicted.saturating_sub(waited_here);
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
    let Frames {
        swapchain, depth, ..
    } = frames;
    for swapchain in std::iter::once(swapchain).chain(depth) {
        drop(swapchain.layered_views);
        drop(swapchain.eye_views);
        drop(swapchain.textures);
        drop(swapchain.handle);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worlds_floor_is_a_standing_eye_height_below_a_local_origin_and_at_a_stages() {
        use xr::ReferenceSpaceType as R;
        assert_eq!(world_origin_in(R::STAGE).position.y, 0.0);
        assert_eq!(world_origin_in(R::LOCAL).position.y, -1.6);
        assert_eq!(world_origin_in(R::UNBOUNDED_MSFT).position.y, -1.6);
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
