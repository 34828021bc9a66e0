//! QR decoding off the frame loop (X2, N-perf): a camera thread pulls frames from a
//! [`CameraSource`] at its own pace and a decoder thread reads the latest one. Between them a
//! slot of one frame: a frame not yet decoded when the next arrives is dropped (latest wins), so
//! a slow decode never queues stale frames and nothing ever waits on the frame loop's side —
//! the shell only drains [`QrWorker::try_sighting`].

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::photo::{self, Photo, PhotoError};
use super::{CameraFrame, CameraSource, Sighting};
use crate::qr::Decoder;

/// Sightings waiting for the shell; more means the shell stopped draining, and the newest are
/// dropped rather than memory growing.
const SIGHTINGS_KEPT: usize = 64;
/// Photos waiting for the shell: one is asked for at a time.
const PHOTOS_KEPT: usize = 2;

/// The one-frame hand-over between the camera and the decoder.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    filled: Condvar,
}

#[derive(Default)]
struct SlotState {
    latest: Option<CameraFrame>,
    closed: bool,
    dropped: u64,
    /// N6: the next frame taken is also kept as a photo.
    photo_wanted: bool,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        // A thread that panicked holding the lock left a frame or none: still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `frame` in the slot, dropping one not yet taken; waits only for the lock.
    fn offer(&self, frame: CameraFrame) {
        let mut state = self.lock();
        if state.latest.replace(frame).is_some() {
            state.dropped += 1;
        }
        drop(state);
        self.filled.notify_one();
    }

    /// The latest frame and whether a photo of it is wanted, waiting for one; `None` once
    /// closed.
    fn take(&self) -> Option<(CameraFrame, bool)> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(frame) = state.latest.take() {
                let photo = std::mem::take(&mut state.photo_wanted);
                return Some((frame, photo));
            }
            state = self
                .filled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.filled.notify_all();
    }
}

/// The decoder thread and what it found.
pub struct QrWorker {
    slot: Arc<Slot>,
    sightings: Receiver<Sighting>,
    photos: Receiver<Result<Photo, PhotoError>>,
    decoder: Option<JoinHandle<()>>,
    camera: Option<JoinHandle<()>>,
}

impl QrWorker {
    /// A decoder thread waiting for frames given with [`Self::offer`].
    pub fn spawn() -> std::io::Result<Self> {
        let slot = Arc::new(Slot::default());
        let (send, sightings) = sync_channel(SIGHTINGS_KEPT);
        let (send_photo, photos) = sync_channel(PHOTOS_KEPT);
        let decoder = {
            let slot = Arc::clone(&slot);
            std::thread::Builder::new()
                .name("qr-decoder".into())
                .spawn(move || decode_frames(&slot, &send, &send_photo))?
        };
        Ok(Self {
            slot,
            sightings,
            photos,
            decoder: Some(decoder),
            camera: None,
        })
    }

    /// A decoder fed by `source` on a camera thread, one frame per `period` (a source that
    /// paces itself may be given zero). The camera stops at its first error, said in the log.
    pub fn with_camera(
        mut source: Box<dyn CameraSource>,
        period: Duration,
    ) -> std::io::Result<Self> {
        let mut worker = Self::spawn()?;
        let slot = Arc::clone(&worker.slot);
        worker.camera = Some(std::thread::Builder::new().name("camera".into()).spawn(
            move || {
                loop {
                    if slot.lock().closed {
                        return;
                    }
                    match source.next_frame() {
                        Ok(frame) => slot.offer(frame),
                        Err(e) => {
                            tracing::warn!("camera stopped: {:#}", with_causes(&e));
                            return;
                        }
                    }
                    std::thread::sleep(period);
                }
            },
        )?);
        Ok(worker)
    }

    /// Hands a frame to the decoder; one it has not started on is dropped (latest wins). Never
    /// waits for decoding.
    pub fn offer(&self, frame: CameraFrame) {
        self.slot.offer(frame);
    }

    /// The next code found, if one is waiting; never waits.
    pub fn try_sighting(&self) -> Option<Sighting> {
        self.sightings.try_recv().ok()
    }

    /// N6: the next frame the decoder takes is also encoded as a photo; it arrives through
    /// [`Self::try_photo`]. Never waits.
    pub fn take_photo(&self) {
        self.slot.lock().photo_wanted = true;
    }

    /// A photo asked for with [`Self::take_photo`], or why it could not be taken; never waits.
    pub fn try_photo(&self) -> Option<Result<Photo, PhotoError>> {
        self.photos.try_recv().ok()
    }

    /// Frames replaced in the slot before the decoder took them.
    pub fn frames_dropped(&self) -> u64 {
        self.slot.lock().dropped
    }
}

impl std::fmt::Debug for QrWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrWorker")
            .field("frames_dropped", &self.frames_dropped())
            .finish_non_exhaustive()
    }
}

impl Drop for QrWorker {
    fn drop(&mut self) {
        self.slot.close();
        for thread in [self.camera.take(), self.decoder.take()]
            .into_iter()
            .flatten()
        {
            // A thread that panicked has said so; nothing more to do at shutdown.
            let _ = thread.join();
        }
    }
}

fn decode_frames(
    slot: &Slot,
    send: &SyncSender<Sighting>,
    photos: &SyncSender<Result<Photo, PhotoError>>,
) {
    let mut decoder = Decoder::new();
    while let Some((frame, photo_wanted)) = slot.take() {
        if photo_wanted {
            let photo = photo::encode(&frame);
            if let Err(TrySendError::Disconnected(_)) = photos.try_send(photo) {
                return;
            }
        }
        let gray = match frame.gray() {
            Ok(gray) => gray,
            Err(e) => {
                tracing::warn!("camera frame not decoded: {e}");
                continue;
            }
        };
        for detection in decoder.decode(&gray) {
            let sighting = Sighting::from_detection(detection, &frame);
            match send.try_send(sighting) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

/// The error and its causes on one line.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::camera::Intrinsics;
    use crate::scene::Pose;

    /// An upright code from the `qrcode` crate, 4 px a module, in a 320×240 frame.
    fn frame_with_code(text: &str, at_ms: u64) -> CameraFrame {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("a small payload");
        let (n, scale, width, height) = (code.width(), 4, 320, 240);
        let mut pixels = vec![235u8; width * height];
        for (i, color) in code.to_colors().iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (x0, y0) = (40 + (i % n) * scale, 40 + (i / n) * scale);
                for y in y0..y0 + scale {
                    pixels[y * width + x0..y * width + x0 + scale].fill(20);
                }
            }
        }
        CameraFrame {
            pixels,
            width,
            height,
            stride: width,
            captured_at: Duration::from_millis(at_ms),
            intrinsics: Intrinsics::from_hfov(width, height, 64.69),
            camera_from_head: Pose::IDENTITY,
            head: None,
        }
    }

    fn next_sighting(worker: &QrWorker) -> Sighting {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = worker.try_sighting() {
                return s;
            }
            assert!(Instant::now() < deadline, "no sighting within 30 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_frame_offered_is_decoded_on_the_worker_and_comes_back_as_a_sighting() {
        let worker = QrWorker::spawn().expect("a thread");
        let link = "hologuide://hologuide-demo/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d/s/3";
        worker.offer(frame_with_code(link, 700));
        let sighting = next_sighting(&worker);
        assert_eq!(sighting.payload, link.as_bytes());
        assert_eq!(sighting.captured_at, Duration::from_millis(700));
        assert!(sighting.corners[0].x > 35.0 && sighting.corners[0].x < 45.0);
    }

    #[test]
    fn n6_a_photo_asked_for_is_the_next_frame_encoded_and_only_that_one() {
        let worker = QrWorker::spawn().expect("a thread");
        worker.offer(frame_with_code("before", 0));
        let _ = next_sighting(&worker);
        assert!(worker.try_photo().is_none(), "no photo unless asked");
        worker.take_photo();
        worker.offer(frame_with_code("photo", 33));
        let started = Instant::now();
        let photo = loop {
            if let Some(photo) = worker.try_photo() {
                break photo.expect("encoded");
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no photo came");
            std::thread::sleep(Duration::from_millis(2));
        };
        assert_eq!((photo.width, photo.height), (320, 240));
        worker.offer(frame_with_code("after", 66));
        let _ = next_sighting(&worker);
        assert!(worker.try_photo().is_none(), "one photo per ask");
    }

    #[test]
    fn a_frame_not_yet_decoded_is_replaced_by_the_next_one() {
        let slot = Slot::default();
        slot.offer(frame_with_code("first", 0));
        slot.offer(frame_with_code("second", 33));
        let taken = slot.take().expect("a frame");
        assert_eq!(taken.0.captured_at, Duration::from_millis(33));
        assert_eq!(slot.lock().dropped, 1);
        slot.close();
        assert!(slot.take().is_none(), "closed: the decoder thread ends");
    }

    /// The frame loop's side never waits: offering while the decoder is busy returns at once
    /// however many frames come.
    #[test]
    fn offering_frames_never_waits_for_the_decoder() {
        let worker = QrWorker::spawn().expect("a thread");
        let frame = frame_with_code("busy", 0);
        for _ in 0..200 {
            worker.offer(frame.clone());
        }
        assert!(
            worker.frames_dropped() > 0,
            "a slot of one keeps only the latest"
        );
    }
}
