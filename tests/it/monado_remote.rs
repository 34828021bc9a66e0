//! A head that a test script moves, on real Monado: Monado's "remote" driver (selected with
//! `P_OVERRIDE_ACTIVE_CONFIG=remote`, its port from `config_v0.json`) takes the headset's pose
//! from whoever connects to that port on 127.0.0.1. The packet is Monado 25's
//! `struct r_remote_data` (`drivers/remote/r_interface.h`, header "mndrmt3"): 376 bytes, the
//! head's centre pose at byte 104 (orientation x, y, z, w, then position x, y, z, as f32).
//! Sizes and offsets were measured by compiling that header from Monado 25.0.0's source (Debian's
//! `monado_25.0.0+dfsg.orig.tar.xz`, the runtime `scripts/setup` installs); the test that uses
//! this fails loudly if the runtime disagrees (the head would not move, and nothing opens). The
//! driver listens on every interface of the port it is given; the tests only connect over
//! 127.0.0.1, to a port picked free on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use glam::{Quat, Vec3};
use hologuide::platform::monado::MonadoInstall;

use crate::openxr_frames::Runtime;
use crate::openxr_runtime::runtime_dir;

const PACKET_BYTES: usize = 376;
const HEAD_CENTRE_AT: usize = 8 + 96;
const HEADER: &[u8; 8] = b"mndrmt3\0";

/// A port nothing listens on now (the runtime binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Runtime {
    /// Monado with the remote driver: its head stands where [`ScriptedHead`] puts it.
    pub(crate) fn start_remote(install: MonadoInstall) -> (Self, u16) {
        let dir = runtime_dir();
        let port = free_port();
        let config = dir.path().join("home/.config/monado");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config_v0.json"),
            serde_json::json!({ "remote": { "version": 0, "port": port, "view_count": 2 } })
                .to_string(),
        )
        .unwrap();
        let runtime = Self::start_in(install, dir, &[("P_OVERRIDE_ACTIVE_CONFIG", "remote")]);
        (runtime, port)
    }
}

/// The connection to the remote driver.
pub(crate) struct ScriptedHead {
    stream: TcpStream,
    /// The runtime's own last packet (controllers as it has them); only the head is changed.
    packet: [u8; PACKET_BYTES],
}

impl ScriptedHead {
    /// Connects once the runtime listens (it starts its hub with the service).
    pub(crate) fn connect(port: u16) -> Self {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("Monado's remote driver never listened on {port}: {e}"),
            }
        };
        // The hub first sends its reset packet, then its latest.
        let mut packet = [0u8; PACKET_BYTES];
        stream.read_exact(&mut packet).expect("the reset packet");
        stream.read_exact(&mut packet).expect("the latest packet");
        packet[..8].copy_from_slice(HEADER);
        Self { stream, packet }
    }

    /// Puts the head at `position` looking along `orientation` (runtime's tracking space).
    pub(crate) fn set(&mut self, position: Vec3, orientation: Quat) {
        let values = [
            orientation.x,
            orientation.y,
            orientation.z,
            orientation.w,
            position.x,
            position.y,
            position.z,
        ];
        for (i, v) in values.iter().enumerate() {
            let at = HEAD_CENTRE_AT + 4 * i;
            self.packet[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        self.stream
            .write_all(&self.packet)
            .expect("the runtime takes the head pose");
    }
}
