//! The running sha256 of a download, computed on a thread of its own.
//!
//! Hashing is the slowest step of storing a download (one core hashes about as fast as the
//! loopback network delivers, measured in `hologuide bench client`), and it cannot be split:
//! sha256 is sequential. So it runs beside the rest — reading the next piece from the network,
//! encrypting and writing this one — instead of after it.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Pieces queued for the hashing thread before an update waits: bounds the memory a download
/// holds (pieces are the downloader's appends, 1 MiB).
const QUEUED: usize = 4;

pub(super) struct RunningHash {
    pieces: Option<SyncSender<Vec<u8>>>,
    worker: Option<JoinHandle<Sha256>>,
}

/// The hashing thread is gone (it cannot fail on its own; only a failed thread start or a
/// panic gets here).
#[derive(Debug)]
pub(super) struct HashingFailed;

impl RunningHash {
    /// Continues `hasher` (the bytes stored so far) on a new thread.
    pub(super) fn start(hasher: Sha256) -> Result<RunningHash, HashingFailed> {
        let (pieces, queue) = sync_channel::<Vec<u8>>(QUEUED);
        let worker = std::thread::Builder::new()
            .name("download sha256".into())
            .spawn(move || {
                let mut hasher = hasher;
                for piece in queue {
                    hasher.update(&piece);
                }
                hasher
            })
            .map_err(|_| HashingFailed)?;
        Ok(RunningHash {
            pieces: Some(pieces),
            worker: Some(worker),
        })
    }

    /// Queues a copy of `bytes` (waits while the queue is full).
    pub(super) fn update(&mut self, bytes: &[u8]) -> Result<(), HashingFailed> {
        match &self.pieces {
            Some(pieces) => pieces.send(bytes.to_vec()).map_err(|_| HashingFailed),
            None => Err(HashingFailed),
        }
    }

    /// Waits for everything queued and returns the sha256 in hex.
    pub(super) fn finish(mut self) -> Result<String, HashingFailed> {
        self.pieces = None;
        let worker = self.worker.take().ok_or(HashingFailed)?;
        let hasher = worker.join().map_err(|_| HashingFailed)?;
        Ok(hex::encode(hasher.finalize()))
    }
}

impl Drop for RunningHash {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has hashed what is queued (a few MiB).
        self.pieces = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_hash_of_pieces_is_the_sha256_of_the_whole() {
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        let mut start = Sha256::new();
        start.update(&bytes[..1000]);
        let mut running = RunningHash::start(start).unwrap();
        for piece in bytes[1000..].chunks(65_537) {
            running.update(piece).unwrap();
        }
        assert_eq!(
            running.finish().unwrap(),
            hex::encode(Sha256::digest(&bytes))
        );
    }
}
