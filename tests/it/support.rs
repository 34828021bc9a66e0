use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test. `CARGO_BIN_EXE_*` rather than a path derived from this test's own
/// executable, which is the dynamic loader when tests run through the Monado tree.
///
/// Its device secret is a file, whatever the machine's session bus offers, so tests behave the
/// same on a desktop and in CI; the `keyring` tests opt into the OS keyring.
pub fn hologuide() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hologuide"));
    command
        .env_remove("RUST_LOG")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOLOGUIDE_KEYSTORE", "file");
    command
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The glTF conformance corpus, shared beside the repository (never copied into it).
pub fn gltf_corpus() -> PathBuf {
    repo().join("../shared/corpus/gltf")
}

pub fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("the hologuide binary runs")
}

/// Copies a directory tree (test fixtures are small).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Zips a directory into an archive, with entry names relative to it.
pub fn zip_dir(dir: &Path, archive: &Path) {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(archive).unwrap());
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                writer
                    .start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    writer.finish().unwrap();
}

/// A virtual X display (Xvfb) for the window and simulator tests; stopped when dropped.
/// Xvfb, xdotool and xwd come from scripts/setup.
pub struct Xvfb {
    pub display: String,
    child: std::process::Child,
}

impl Xvfb {
    /// A 1280×1024 24-bit screen on a display number no other test or X server uses.
    pub fn start() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        for _ in 0..50 {
            let offset = NEXT.fetch_add(1, Ordering::SeqCst);
            let number = 100 + (std::process::id() % 500) * 60 + offset;
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            if socket.exists() || lock.exists() {
                continue;
            }
            let display = format!(":{number}");
            let mut child = Command::new("Xvfb")
                // -noreset: an X server resets when its last client leaves, and a client that
                // connects during the reset is refused ("Failed to open connection to X
                // server") — our readiness probe below is such a last client.
                .args([
                    &display,
                    "-screen",
                    "0",
                    "1280x1024x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("Xvfb runs (scripts/setup installs it)");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                // The socket file appears at bind(), before the server listens: wait until a
                // client really connects.
                if socket.exists() {
                    let connects = Command::new("xdotool")
                        .arg("getmouselocation")
                        .env("DISPLAY", &display)
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    if connects {
                        return Self { display, child };
                    }
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no Xvfb display could be started");
    }

    /// A command that runs on this display.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("DISPLAY", &self.display);
        command
    }

    /// Runs xdotool with these arguments; its standard output, trimmed, or None on failure.
    pub fn xdotool(&self, args: &[&str]) -> Option<String> {
        let output = self.command("xdotool").args(args).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Waits until a window whose title contains `name` exists; its id.
    pub fn wait_for_window(&self, name: &str, timeout: std::time::Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(ids) = self.xdotool(&["search", "--name", name])
                && let Some(id) = ids.lines().next()
            {
                return Some(id.to_owned());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    /// The whole screen as xwd writes it, decoded.
    pub fn screenshot(&self) -> image::RgbaImage {
        let output = self
            .command("xwd")
            .args(["-root", "-silent"])
            .output()
            .expect("xwd runs (scripts/setup installs x11-apps)");
        assert!(output.status.success(), "xwd failed");
        parse_xwd(&output.stdout).expect("xwd output")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes an XWD image of a 24/32-bit TrueColor visual (what Xvfb -screen …x24 gives).
pub fn parse_xwd(bytes: &[u8]) -> Result<image::RgbaImage, String> {
    let field = |i: usize| -> Result<u32, String> {
        bytes
            .get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("header field {i} missing"))
    };
    let header_size = field(0)? as usize;
    if field(1)? != 7 || field(2)? != 2 {
        return Err("not an XWD version 7 ZPixmap".into());
    }
    let (width, height) = (field(4)?, field(5)?);
    let byte_order = field(7)?;
    let bits_per_pixel = field(11)?;
    let bytes_per_line = field(12)? as usize;
    let masks = [field(14)?, field(15)?, field(16)?];
    let colours = field(19)? as usize;
    // Xvfb's depth-24 screen comes as 32 bits per pixel, but xwd writes 24 (packed) when a
    // window with another visual is on screen (Monado's compositor window does that).
    let bytes_per_pixel = match bits_per_pixel {
        24 => 3,
        32 => 4,
        other => return Err(format!("{other} bits per pixel, expected 24 or 32")),
    };
    let start = header_size + colours * 12;
    let mut image = image::RgbaImage::new(width, height);
    for y in 0..height as usize {
        for x in 0..width as usize {
            let at = start + y * bytes_per_line + x * bytes_per_pixel;
            let raw = bytes
                .get(at..at + bytes_per_pixel)
                .ok_or("pixel data cut short")?;
            let pixel = raw.iter().enumerate().fold(0u32, |v, (i, b)| {
                // byte_order 0: least significant byte first.
                let shift = if byte_order == 0 {
                    8 * i
                } else {
                    8 * (bytes_per_pixel - 1 - i)
                };
                v | u32::from(*b) << shift
            });
            let channel = |mask: u32| ((pixel & mask) >> mask.trailing_zeros()) as u8;
            image.put_pixel(
                x as u32,
                y as u32,
                image::Rgba([channel(masks[0]), channel(masks[1]), channel(masks[2]), 255]),
            );
        }
    }
    Ok(image)
}

/// Each line of a command's `--json` output as a JSON value; a line that is not JSON fails.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// A memory figure of a running process from `/proc/<pid>/status` (`VmRSS`, or `VmHWM` for the
/// peak so far), in bytes; `None` once the process is gone.
pub fn process_memory_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// An upright code rendered from the `qrcode` crate, 4 px per module with a quiet zone.
pub fn write_code_png(path: &Path, text: &str) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = code.to_colors();
    let (n, scale, quiet) = (code.width(), 4usize, 4usize);
    let side = (n + 2 * quiet) * scale;
    let mut image = image::GrayImage::from_pixel(side as u32, side as u32, image::Luma([235]));
    for (i, color) in modules.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % n + quiet) * scale, (i / n + quiet) * scale);
            for dy in 0..scale {
                for dx in 0..scale {
                    image.put_pixel((x + dx) as u32, (y + dy) as u32, image::Luma([20]));
                }
            }
        }
    }
    image.save(path).unwrap();
}

/// CRC-32 (IEEE) as PNG chunks carry it: for tests that write a PNG header by hand.
pub fn png_crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
