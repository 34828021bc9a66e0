//! winit's side of the window: events in, intents and camera moves out, one frame per redraw.

use std::sync::Arc;
use std::time::Instant;

use glam::{Mat4, Vec2};
use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, MouseButton, WindowEvent};
use winit::event_loop::ActiveEventLoop;
use winit::keyboard::{KeyCode, PhysicalKey};
use winit::window::{Window, WindowId};

use super::camera::{FlyCamera, Walk};
use super::pick::cursor_ray;
use super::present::Presenter;
use super::{Cause, Clock, FOV_Y_DEG, Observer, Outcome, WindowError, WindowOptions};
use crate::app::{App, Intent, View};
use crate::render::headless::HeadlessConfig;
use crate::render::shots::STEP_TIME_S;
use crate::render::{EyeView, EyeViews, Renderer, Targets};
use crate::scene::{CardFollower, Frame, SceneInput};
use crate::xr::menu::{Menu, MenuChange};
use crate::xr::{Content, Surroundings};

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
    content: &'a Content,
    /// A guide chosen from the All list, shown instead of `content`.
    chosen: Option<Content>,
    /// F3: the All list and the status line.
    menu: Menu,
    options: WindowOptions,
    surroundings: &'a dyn Surroundings,
    observer: &'a mut dyn Observer,
    live: Option<Live>,
    error: Option<WindowError>,
    app: App,
    /// As asked: `--offline` and the O key; the banner also shows while the service is lost.
    online: bool,
    /// What the last frame drew, so the observer hears of changes only.
    drawn_online: bool,
    camera: FlyCamera,
    follower: CardFollower,
    walk: Walk,
    mouse: Mouse,
    cursor: Option<PhysicalPosition<f64>>,
    /// The last frame drawn and its camera (world → clip), for clicks.
    last: Option<(Frame, Mat4)>,
    frame: u64,
    last_instant: Option<Instant>,
    /// Seconds the current screen has been shown.
    step_time_s: f32,
    /// The current screen has had its `shots` picture taken.
    shot_taken: bool,
}

impl<'a> Handler<'a> {
    pub fn new(
        content: &'a Content,
        options: WindowOptions,
        surroundings: &'a dyn Surroundings,
        observer: &'a mut dyn Observer,
    ) -> Self {
        let app = App::open(
            Arc::clone(&content.guide),
            content.source,
            options.start_step,
        );
        Self {
            content,
            chosen: None,
            menu: Menu::default(),
            online: options.online,
            drawn_online: options.online,
            options,
            surroundings,
            observer,
            live: None,
            error: None,
            app,
            camera: FlyCamera::standing_operator(),
            follower: CardFollower::default(),
            walk: Walk::default(),
            mouse: Mouse::Up,
            cursor: None,
            last: None,
            frame: 0,
            last_instant: None,
            step_time_s: 0.0,
            shot_taken: false,
        }
    }

    pub fn finish(mut self) -> Result<Outcome, WindowError> {
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
        if let Some((n, path)) = &self.options.capture
            && *n >= self.frame
        {
            return Err(WindowError::Write {
                path: path.clone(),
                reason: format!(
                    "frame {n} was never drawn: the window closed after {} frames",
                    self.frame
                ),
            });
        }
        Ok(Outcome { frames: self.frame })
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, error: WindowError) {
        tracing::error!("{error}");
        self.error.get_or_insert(error);
        event_loop.exit();
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<(), WindowError> {
        let (width, height) = self.options.size;
        let attributes = Window::default_attributes()
            .with_title(title(&self.app.view()))
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
            crate::render::headless::FORMAT,
            screenshot.sample_count,
        );
        self.observer.opened(presenter.describe());
        self.observer
            .shown(self.frame, &self.app.view(), Cause::Start);
        self.live = Some(Live {
            window,
            presenter,
            renderer,
        });
        Ok(())
    }

    fn intent(&mut self, intent: Intent, cause: Cause) {
        let transition = self.app.handle(intent);
        self.menu.dismiss_status();
        if transition != crate::app::Transition::Ignored {
            self.surroundings.screen_changed(&transition);
        }
        // Restart on the first step changes nothing but is still shown (the operator asked).
        if transition != crate::app::Transition::Ignored || intent == Intent::Restart {
            self.step_time_s = 0.0;
            self.shot_taken = false;
            let view = self.app.view();
            if let Some(live) = &self.live {
                live.window.set_title(&title(&view));
            }
            self.observer.shown(self.frame, &view, cause);
        }
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, code: KeyCode, pressed: bool, repeat: bool) {
        match code {
            KeyCode::KeyW => self.walk.forward = pressed,
            KeyCode::KeyS => self.walk.back = pressed,
            KeyCode::KeyA => self.walk.left = pressed,
            KeyCode::KeyD => self.walk.right = pressed,
            _ if !pressed || repeat => {}
            KeyCode::KeyN => self.intent(Intent::Next, Cause::Key("N")),
            KeyCode::ArrowRight => self.intent(Intent::Next, Cause::Key("Right")),
            KeyCode::KeyB => self.intent(Intent::Back, Cause::Key("B")),
            KeyCode::ArrowLeft => self.intent(Intent::Back, Cause::Key("Left")),
            KeyCode::KeyR => self.intent(Intent::Restart, Cause::Key("R")),
            KeyCode::KeyO => self.online = !self.online,
            KeyCode::KeyM => {
                let change = self.menu.toggle(self.surroundings);
                self.menu_changed(change);
            }
            _ if digit(code).is_some() && self.menu.is_open() => {
                if let Some(number) = digit(code) {
                    let change = self.menu.choose(number, self.surroundings);
                    self.menu_changed(change);
                }
            }
            KeyCode::Escape => event_loop.exit(),
            _ => {}
        }
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

    fn click(&mut self) {
        let (Some(cursor), Some((frame, view_projection)), Some(live)) =
            (self.cursor, &self.last, &self.live)
        else {
            return;
        };
        let (width, height) = live.presenter.size();
        let size = Vec2::new(width as f32, height as f32);
        let at = Vec2::new(cursor.x as f32, cursor.y as f32);
        let ray = cursor_ray(*view_projection, at, size);
        // F3: an entry of the All list on screen is chosen by clicking it.
        let entry = ray.and_then(|ray| crate::xr::pointer::hit_list_entry(frame, ray));
        let hit = ray.and_then(|ray| crate::xr::pointer::hit_button(frame, ray));
        tracing::debug!(?at, ?hit, ?entry, "click");
        if let Some((number, _)) = entry {
            let change = self.menu.choose(number, self.surroundings);
            self.menu_changed(change);
        } else if let Some((action, _)) = hit {
            self.intent(crate::xr::intent_for(action), Cause::Click(action));
        }
    }

    /// What the All list did, told to the observer; a chosen guide replaces the one shown.
    fn menu_changed(&mut self, change: Option<MenuChange>) {
        match change {
            None => {}
            Some(MenuChange::ListShown(lines)) => self.observer.all_list(self.frame, &lines),
            Some(MenuChange::Status(text)) => self.observer.status(self.frame, &text),
            Some(MenuChange::Open {
                content,
                title,
                version,
            }) => {
                // Its files may share paths with the last guide's.
                if let Some(live) = &mut self.live {
                    live.renderer.forget_assets();
                }
                self.app = App::open(Arc::clone(&content.guide), content.source, None);
                self.chosen = Some(content);
                self.step_time_s = 0.0;
                self.shot_taken = false;
                self.observer.guide_opened(self.frame, &title, version);
                let view = self.app.view();
                if let Some(live) = &self.live {
                    live.window.set_title(&self::title(&view));
                }
                self.observer.shown(self.frame, &view, Cause::Chosen);
            }
        }
    }

    fn advance_clock(&mut self) -> f32 {
        match self.options.clock {
            Clock::Fixed { frame_s } => {
                if self.frame == 0 {
                    0.0
                } else {
                    frame_s
                }
            }
            Clock::Real => {
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
        // The device's answers (the All list, a chosen guide) as they arrive; never waits.
        for change in self.menu.poll(self.surroundings) {
            self.menu_changed(Some(change));
        }
        let dt = self.advance_clock();
        self.step_time_s += dt;
        self.camera.walk(self.walk, dt);
        let head = self.camera.pose();
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        let (width, height) = live.presenter.size();
        // F2: the monitor's latest word, read without waiting.
        let online = self.online && self.surroundings.online();
        if online != self.drawn_online {
            self.drawn_online = online;
            self.observer.online_changed(self.frame, online);
        }
        let view = self.app.view();
        let input = SceneInput {
            view: &view,
            online,
            all_list: self.menu.lines(),
            status: self.menu.status(),
            head,
            anchors: &[],
            step_time_s: self.step_time_s,
        };
        let frame = Frame::build(&input, &mut self.follower, dt);
        let step_number = match &view {
            View::Step(step) => Some(step.step_number),
            View::Complete { .. } => None,
        };
        let eye = EyeView::from_pose(head, FOV_Y_DEG, width as f32 / height as f32);
        let screenshot = HeadlessConfig::screenshot(width, height);
        let content = self.chosen.as_ref().unwrap_or(self.content);
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
            &frame,
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

        let capture_now = self
            .options
            .capture
            .as_ref()
            .filter(|(n, _)| *n == self.frame)
            .map(|(_, path)| path.clone());
        if let Some(path) = capture_now {
            self.save(&path)?;
        }
        let shot_due = !self.shot_taken && self.step_time_s >= STEP_TIME_S - 1e-4;
        if let (Some(dir), true, Some(n)) = (&self.options.shots, shot_due, step_number) {
            let path = dir.join(format!("step-{n:02}.png"));
            self.shot_taken = true;
            self.save(&path)?;
        }
        self.last = Some((frame, eye.projection * eye.view));
        self.frame += 1;
        if self
            .options
            .exit_after_frames
            .is_some_and(|n| self.frame >= n)
        {
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
            WindowEvent::KeyboardInput { event, .. } => {
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
fn digit(code: KeyCode) -> Option<usize> {
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
        .map(|i| i + 1)
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
