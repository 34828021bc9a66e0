//! `run`'s camera options: where QR codes come from (`--camera`), what the virtual camera sees
//! (`--room`) and, headless, where the head goes (`--poses`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use hologuide::app::head_path::HeadPath;
use hologuide::camera::decoding::QrWorker;
use hologuide::camera::room::Room;
use hologuide::camera::virtual_camera::HeadFeed;
use hologuide::camera::{self, OpenedCamera};

#[derive(Debug, Args, Clone, Default)]
pub struct CameraArgs {
    /// QR codes from a camera: `virtual[:OPTIONS]` sees the --room from the head's pose
    /// (OPTIONS, comma-separated: noise=SIGMA, blur, gain=G, exposure_ms=MS, rate=HZ,
    /// size=WxH); `files:DIR` replays the photos in DIR, looped. A sticker's guide link opens its guide, an anchor
    /// sticker places its holograms (README: "QR stickers").
    #[arg(long, value_name = "CAMERA")]
    pub camera: Option<String>,
    /// The room the virtual camera sees: stickers and grey boxes (README: "Room files"); alone,
    /// it means `--camera virtual`. The demo's room (its sticker on the pump's nameplate) when
    /// the virtual camera runs without it.
    #[arg(long, value_name = "FILE")]
    pub room: Option<PathBuf>,
    /// Headless (and `qr watch`): the head's pose by frame, `FRAME X Y Z YAW PITCH [ROLL]` lines, walked
    /// straight between them (README: "Scripted head poses").
    #[arg(long, value_name = "FILE")]
    pub poses: Option<PathBuf>,
}

/// What the app driver needs to know of the camera.
#[derive(Debug, Default)]
pub struct DriverCamera {
    /// A camera looks for stickers: anchored holograms wait for theirs.
    pub looking: bool,
    /// The head the virtual camera follows, written by the driver every frame.
    pub follows: Option<HeadFeed>,
}

/// A camera decoding on its own threads, and the head it follows, if virtual.
pub struct StartedCamera {
    pub worker: QrWorker,
    pub follows: Option<HeadFeed>,
}

impl CameraArgs {
    pub fn start(&self) -> anyhow::Result<Option<StartedCamera>> {
        let Some(opened) = self.open()? else {
            return Ok(None);
        };
        let worker = QrWorker::with_camera(opened.source, opened.period)
            .context("starting the QR decoder")?;
        Ok(Some(StartedCamera {
            worker,
            follows: opened.follows,
        }))
    }

    /// The camera, not yet running.
    pub fn open(&self) -> anyhow::Result<Option<OpenedCamera>> {
        let spec = match (self.camera.as_deref(), &self.room) {
            (Some(spec), _) => spec,
            (None, Some(_)) => "virtual",
            (None, None) => return Ok(None),
        };
        if self.room.is_some() && !(spec == "virtual" || spec.starts_with("virtual:")) {
            anyhow::bail!(
                "--room is what the virtual camera sees; --camera {spec} is another camera"
            );
        }
        let room = if spec == "virtual" || spec.starts_with("virtual:") {
            Some(self.load_room()?)
        } else {
            None
        };
        camera::open(spec, room)
            .with_context(|| format!("opening --camera {spec}"))
            .map(Some)
    }

    fn load_room(&self) -> anyhow::Result<Room> {
        let path = match &self.room {
            Some(path) => path.clone(),
            None => hologuide::demo::room_path().context("finding the demo's room file")?,
        };
        Room::load(&path).with_context(|| format!("reading the room {}", path.display()))
    }

    /// The camera on its own threads (OpenXR, the window), and what the driver needs of it.
    pub fn start_real_time(&self) -> anyhow::Result<(Option<QrWorker>, DriverCamera)> {
        Ok(match self.start()? {
            Some(StartedCamera { worker, follows }) => (
                Some(worker),
                DriverCamera {
                    looking: true,
                    follows,
                },
            ),
            None => (None, DriverCamera::default()),
        })
    }

    /// `--poses` moves a headless head only; `why` says what moves it here.
    pub fn no_poses_here(&self, why: &str) -> anyhow::Result<()> {
        if self.poses.is_some() {
            anyhow::bail!("--poses is for --backend headless: {why}");
        }
        Ok(())
    }

    pub fn head_path(&self) -> anyhow::Result<Option<HeadPath>> {
        self.poses.as_deref().map(read_head_path).transpose()
    }
}

fn read_head_path(path: &Path) -> anyhow::Result<HeadPath> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the head poses {}", path.display()))?;
    HeadPath::parse(&text).with_context(|| format!("in {}", path.display()))
}
