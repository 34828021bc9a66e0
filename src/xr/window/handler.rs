//! winit's side of the window: events in, intents and camera moves out, one frame per redraw.

use std::sync::Arc;
use std::time::Instant;

use glam::{Mat4, Vec2};
use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, MouseButton, WindowEvent};
use winit::event_loop::ActiveEventLoop;
use winit::keyboard::{Key, KeyCode, PhysicalKey};
use winit::window::{Window, WindowId};

use super::camera::{FlyCamera, Walk};
use super::pick::cursor_ray;
use super::present::Presenter;
use super::{FOV_Y_DEG, FrameClock, Observer, WindowError, WindowOptions};
use crate::app::View;
use crate::app::driver::{Driver, Effect, Input};
use crate::app::report::{AppReport, Cause, Observation};
use crate::app::script::Command;
use crate::app::{Intent, KeyPress};
use crate::render::{EyeView, EyeViews, Renderer, Targets};
use crate::xr::headless::HeadlessConfig;
use crate::xr::headless::shots::STEP_TIME_S;

/// A press and release closer than this (pixels) is a click; farther is a drag (looking).
const CLICK_SLOP_PX: f64 = 4.0;
/// Real time between frames is capped so a stall (a slow first frame on lavapipe, a dragged
/// window) does not throw the card or the walk far.
const MAX_FRAME_S: f32 = 0.1;

struct Live {
    window: Arc<Window>,
    presenter: Presenter,
    renderer: Renderer,
}

enum Mouse {
    Up,
    /// A button is held: where it went down, and whether it has moved far enough to be a drag.
    Down {
        button: MouseButton,
        at: PhysicalPosition<f64>,
        dragging: bool,
    },
}

pub struct Handler<'a> {
    /// The app: guide, All list, status line, banner, card follower, step timer, telemetry.
    driver: Driver,
    options: WindowOptions,
    observer: &'a mut dyn Observer,
    live: Option<Live>,
    error: Option<WindowError>,
    camera: FlyCamera,
    walk: Walk,
    mouse: Mouse,
    cursor: Option<PhysicalPosition<f64>>,
    /// The camera (world → clip) of the last frame drawn, for clicks.
    last_camera: Option<Mat4>,
    last_instant: Option<Instant>,
    /// The screen (counted by the driver) whose `shots` picture was taken last.
    shot_of: Option<u64>,
}

impl<'a> Handler<'a> {
    /// `driver` comes without gaze dwell: the mouse points here.
    pub fn new(driver: Driver, options: WindowOptions, observer: &'a mut dyn Observer) -> Self {
        Self {
            driver,
            options,
            observer,
            live: None,
            error: None,
            camera: FlyCamera::standing_operator(),
            walk: Walk::default(),
            mouse: Mouse::Up,
            cursor: None,
            last_camera: None,
            last_instant: None,
            shot_of: None,
        }
    }

    pub fn finish(mut self) -> Result<AppReport, WindowError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let Some(live) = &self.live else {
            return Err(WindowError::NoDisplay(
                "the event loop ended before the window opened".into(),
            ));
        };
        let errors = live.presenter.errors();
        if !errors.is_empty() {
            return Err(WindowError::Gpu(errors));
        }
        let frames = self.driver.frames();
        if let Some((n, path)) = &self.options.capture
            && *n > frames
        {
            return Err(WindowError::Write {
                path: path.clone(),
                reason: format!(
                    "frame {n} was never drawn: the window closed after {frames} frames"
                ),
            });
        }
        Ok(self.driver.report())
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, error: WindowError) {
        tracing::error!("{error}");
        self.error.get_or_insert(error);
        event_loop.exit();
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<(), WindowError> {
        let (width, height) = self.options.size;
        let attributes = Window::default_attributes()
            .with_title(title(&self.driver.view()))
            .with_inner_size(PhysicalSize::new(width, height));
        let window = Arc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| WindowError::NoDisplay(e.to_string()))?,
        );
        let size = window.inner_size();
        let presenter = Presenter::new(window.clone(), size.width, size.height)?;
        let screenshot = HeadlessConfig::screenshot(width, height);
        let renderer = Renderer::new(
            &presenter.device,
            &presenter.queue,
            crate::render::gpu::FORMAT,
            screenshot.sample_count,
        );
        self.observer.opened(presenter.describe());
        self.live = Some(Live {
            window,
            presenter,
            renderer,
        });
        self.tell();
        Ok(())
    }

    /// Passes on what the app did (to the observer, the title, the renderer).
    fn tell(&mut self) {
        for effect in self.driver.take_effects() {
            match effect {
                // Its files may share paths with the last guide's; they load as they show.
                Effect::SwapAssets => {
                    if let Some(live) = &mut self.live {
                        live.renderer.forget_assets();
                    }
                }
            }
        }
        for observation in self.driver.take_observations() {
            match observation {
                Observation::Shown { frame, cause } => {
                    let view = self.driver.view();
                    if let Some(live) = &self.live {
                        live.window.set_title(&title(&view));
                    }
                    self.observer.shown(frame, &view, cause);
                }
                Observation::Online { frame, online } => {
                    self.observer.online_changed(frame, online);
                }
                Observation::AllList { frame, lines } => self.observer.all_list(frame, &lines),
                Observation::GuideOpened {
                    frame,
                    title,
                    version,
                } => self.observer.guide_opened(frame, &title, version),
                Observation::Status { frame, text } => self.observer.status(frame, &text),
                Observation::Answered { frame, line } => self.observer.answered(frame, &line),
            }
        }
    }

    fn input(&mut self, input: Input) {
        self.driver.input(input);
        self.tell();
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, code: KeyCode, pressed: bool, repeat: bool) {
        let intent = |intent, key| Input::Command(Command::Intent(intent), Cause::Key(key));
        match code {
            KeyCode::KeyW => self.walk.forward = pressed,
            KeyCode::KeyS => self.walk.back = pressed,
            KeyCode::KeyA => self.walk.left = pressed,
            KeyCode::KeyD => self.walk.right = pressed,
            _ if !pressed || repeat => {}
            KeyCode::KeyN => self.input(intent(Intent::Next, "N")),
            KeyCode::ArrowRight => self.input(intent(Intent::Next, "Right")),
            KeyCode::KeyB => self.input(intent(Intent::Back, "B")),
            KeyCode::ArrowLeft => self.input(intent(Intent::Back, "Left")),
            KeyCode::KeyR => self.input(intent(Intent::Restart, "R")),
            KeyCode::KeyO => self.input(Input::ToggleOffline),
            KeyCode::KeyM => self.input(Input::Command(Command::Menu, Cause::Key("M"))),
            _ if digit(code).is_some() && self.driver.all_list_open() => {
                if let Some(number) = digit(code) {
                    self.input(Input::Command(Command::Open(number), Cause::Key("digit")));
                }
            }
            KeyCode::Escape => event_loop.exit(),
            _ => {}
        }
    }

    /// N6: while a keypad is beside the card, the keyboard types into it: Enter is OK,
    /// Backspace erases, the characters the keypad has type (a number's keypad leaves letters
    /// to their shortcuts, N for Next); Escape and the arrows keep their meaning. True when the
    /// key went to the keypad.
    fn typed(&mut self, event: &KeyEvent) -> bool {
        if !event.state.is_pressed() {
            return false;
        }
        let Some(keys) = self.driver.keypad_keys() else {
            return false;
        };
        let key = match event.physical_key {
            PhysicalKey::Code(KeyCode::Enter | KeyCode::NumpadEnter) => KeyPress::Done,
            PhysicalKey::Code(KeyCode::Backspace) => KeyPress::Erase,
            PhysicalKey::Code(KeyCode::Escape | KeyCode::ArrowLeft | KeyCode::ArrowRight) => {
                return false;
            }
            _ => {
                // The text the key types; the key's own character where there is none (X11
                // gives text only once its input method is ready, which a busy machine can be
                // late for).
                let text = event.text.clone().or_else(|| match &event.logical_key {
                    Key::Character(character) => Some(character.clone()),
                    _ => None,
                });
                let typed: Vec<char> = text
                    .map(|text| text.chars().filter(|c| keys.has(*c)).collect())
                    .unwrap_or_default();
                for &c in &typed {
                    self.input(Input::Typed(KeyPress::Char(c)));
                }
                return !typed.is_empty();
            }
        };
        self.input(Input::Typed(key));
        true
    }

    fn mouse_button(&mut self, button: MouseButton, state: ElementState) {
        match (state, &self.mouse) {
            (ElementState::Pressed, Mouse::Up) => {
                if let Some(at) = self.cursor {
                    self.mouse = Mouse::Down {
                        button,
                        at,
                        dragging: false,
                    };
                }
            }
            (ElementState::Released, Mouse::Down { button: held, .. }) if *held == button => {
                let clicked = matches!(
                    self.mouse,
                    Mouse::Down {
                        button: MouseButton::Left,
                        dragging: false,
                        ..
                    }
                );
                self.mouse = Mouse::Up;
                if clicked {
                    self.click();
                }
            }
            _ => {}
        }
    }

    fn cursor_moved(&mut self, position: PhysicalPosition<f64>) {
        let previous = self.cursor.replace(position);
        if let Mouse::Down { at, dragging, .. } = &mut self.mouse {
            if !*dragging {
                let moved = (position.x - at.x).hypot(position.y - at.y);
                *dragging = moved > CLICK_SLOP_PX;
            }
            if *dragging && let Some(previous) = previous {
                self.camera
                    .look(position.x - previous.x, position.y - previous.y);
            }
        }
    }

    /// A click points a ray from the camera through the cursor: the driver chooses what it hits.
    fn click(&mut self) {
        let (Some(cursor), Some(view_projection), Some(live)) =
            (self.cursor, self.last_camera, &self.live)
        else {
            return;
        };
        let (width, height) = live.presenter.size();
        let size = Vec2::new(width as f32, height as f32);
        let at = Vec2::new(cursor.x as f32, cursor.y as f32);
        tracing::debug!(?at, "click");
        if let Some(ray) = cursor_ray(view_projection, at, size) {
            self.input(Input::Select(ray));
        }
    }

    fn advance_clock(&mut self) -> f32 {
        match self.options.clock {
            FrameClock::Fixed { frame_s } => {
                if self.driver.frames() == 0 {
                    0.0
                } else {
                    frame_s
                }
            }
            FrameClock::Real => {
                let now = Instant::now();
                let dt = self
                    .last_instant
                    .map_or(0.0, |then| (now - then).as_secs_f32().min(MAX_FRAME_S));
                self.last_instant = Some(now);
                dt
            }
        }
    }

    fn draw(&mut self, event_loop: &ActiveEventLoop) -> Result<(), WindowError> {
        if self.live.is_none() {
            return Ok(());
        }
        let dt = self.advance_clock();
        self.camera.walk(self.walk, dt);
        let head = self.camera.pose();
        if let Some(camera) = &self.options.camera {
            self.driver.collect_sightings(camera);
        }
        self.driver.frame(head, dt);
        self.tell();
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        let Some(frame) = self.driver.last_frame() else {
            return Ok(());
        };
        let (width, height) = live.presenter.size();
        let eye = EyeView::from_pose(head, FOV_Y_DEG, width as f32 / height as f32);
        let screenshot = HeadlessConfig::screenshot(width, height);
        let content = self.driver.content();
        let read = |path: &str| content.read_asset(path);
        let mut encoder =
            live.presenter
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("window frame"),
                });
        let offscreen_views = [&live.presenter.offscreen().view];
        live.renderer.draw(
            &mut encoder,
            frame,
            &Targets {
                eyes: &[eye],
                views: EyeViews::PerEye(&offscreen_views),
                width,
                height,
                clear: screenshot.clear,
            },
            &read,
        )?;
        live.presenter.present(encoder)?;
        self.last_camera = Some(eye.projection * eye.view);

        let number = self.driver.frames();
        let capture_now = self
            .options
            .capture
            .as_ref()
            .filter(|(n, _)| *n == number)
            .map(|(_, path)| path.clone());
        if let Some(path) = capture_now {
            self.save(&path)?;
        }
        let screen = self.driver.screens_shown();
        let shot_due =
            self.shot_of != Some(screen) && self.driver.step_time_s() >= STEP_TIME_S - 1e-4;
        let step_number = match self.driver.view() {
            View::Step(step) => Some(step.step_number),
            View::Complete { .. } => None,
        };
        if let (Some(dir), true, Some(n)) = (&self.options.shots, shot_due, step_number) {
            let path = dir.join(format!("step-{n:02}.png"));
            self.shot_of = Some(screen);
            self.save(&path)?;
        }
        let enough = self.options.exit_after_frames.is_some_and(|n| number >= n);
        if enough || self.driver.exit_asked() {
            event_loop.exit();
        }
        Ok(())
    }

    fn save(&mut self, path: &std::path::Path) -> Result<(), WindowError> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        let presenter = &live.presenter;
        let image = crate::render::gpu::read_rgba(
            &presenter.device,
            &presenter.queue,
            &presenter.offscreen().texture,
            0,
        )?;
        image.save(path).map_err(|e| WindowError::Write {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        self.observer.written(path);
        Ok(())
    }
}

impl ApplicationHandler for Handler<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.live.is_none()
            && self.error.is_none()
            && let Err(error) = self.open(event_loop)
        {
            self.fail(event_loop, error);
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                if let Some(live) = &mut self.live {
                    live.presenter.resize(size.width, size.height);
                }
            }
            WindowEvent::KeyboardInput {
                event,
                is_synthetic,
                ..
            } => {
                // A key held when the window gains focus comes again as a synthetic press: it
                // was not typed here.
                if !is_synthetic && self.typed(&event) {
                    return;
                }
                if let PhysicalKey::Code(code) = event.physical_key {
                    self.key(event_loop, code, event.state.is_pressed(), event.repeat);
                }
            }
            WindowEvent::CursorMoved { position, .. } => self.cursor_moved(position),
            WindowEvent::CursorLeft { .. } => self.cursor = None,
            WindowEvent::MouseInput { state, button, .. } => self.mouse_button(button, state),
            // Focus lost while a key is held: winit sends no release, so stop walking.
            WindowEvent::Focused(false) => self.walk = Walk::default(),
            WindowEvent::RedrawRequested => {
                if let Err(error) = self.draw(event_loop) {
                    self.fail(event_loop, error);
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, _: &ActiveEventLoop) {
        // Draw continuously: animations play and the card glides after the head.
        if let Some(live) = &self.live {
            live.window.request_redraw();
        }
    }
}

/// The number key pressed, 1 to 9 (top row or keypad).
fn digit(code: KeyCode) -> Option<std::num::NonZeroU32> {
    let keys = [
        (KeyCode::Digit1, KeyCode::Numpad1),
        (KeyCode::Digit2, KeyCode::Numpad2),
        (KeyCode::Digit3, KeyCode::Numpad3),
        (KeyCode::Digit4, KeyCode::Numpad4),
        (KeyCode::Digit5, KeyCode::Numpad5),
        (KeyCode::Digit6, KeyCode::Numpad6),
        (KeyCode::Digit7, KeyCode::Numpad7),
        (KeyCode::Digit8, KeyCode::Numpad8),
        (KeyCode::Digit9, KeyCode::Numpad9),
    ];
    keys.iter()
        .position(|(row, pad)| code == *row || code == *pad)
        .and_then(|i| std::num::NonZeroU32::new(i as u32 + 1))
}

/// "hologuide — Replace the filter cartridge — step 2 of 9".
pub fn title(view: &View<'_>) -> String {
    match view {
        View::Step(step) => format!(
            "hologuide — {} — step {} of {}",
            step.guide_title, step.step_number, step.step_count
        ),
        View::Complete { guide_title, .. } => format!("hologuide — {guide_title} — done"),
    }
}
