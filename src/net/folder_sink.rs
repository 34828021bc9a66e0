//! Blobs downloaded into a plain folder ([`FolderSink`]), for tests and the benchmark's
//! comparison, and the sha256 of a file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BlobSink, CHUNK, SinkError, Stored};
use crate::net::error::NetError;

/// Blobs as files in a folder: `<sha256>.part` while arriving, `<sha256>` once verified. For
/// tests and for the benchmark's comparison; devices store blobs in the encrypted cache.
pub struct FolderSink {
    dir: PathBuf,
}

impl FolderSink {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, NetError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(NetError::io(format!("creating {}", dir.display())))?;
        Ok(Self { dir })
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    pub fn partial_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.part"))
    }
}

fn failed(what: String) -> impl FnOnce(std::io::Error) -> SinkError {
    move |e| SinkError::Failed(format!("{what}: {e}"))
}

impl BlobSink for FolderSink {
    fn stored(&self, sha256: &str, bytes: u64) -> Result<Stored, SinkError> {
        if std::fs::metadata(self.path(sha256)).is_ok_and(|m| m.len() == bytes) {
            return Ok(Stored::Complete);
        }
        Ok(Stored::Partial(
            std::fs::metadata(self.partial_path(sha256)).map_or(0, |m| m.len()),
        ))
    }

    fn append(&self, sha256: &str, offset: u64, data: &[u8]) -> Result<(), SinkError> {
        let path = self.partial_path(sha256);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(failed(format!("opening {}", path.display())))?;
        let length = file
            .metadata()
            .map_err(failed(format!("reading {}", path.display())))?
            .len();
        if length != offset {
            return Err(SinkError::Failed(format!(
                "{} holds {length} bytes, the download continues at {offset}",
                path.display()
            )));
        }
        file.write_all(data)
            .map_err(failed(format!("writing {}", path.display())))
    }

    fn finish(&self, sha256: &str) -> Result<(), SinkError> {
        let path = self.partial_path(sha256);
        let (actual, _) = hash_file(&path).map_err(|e| SinkError::Failed(e.to_string()))?;
        if actual != sha256 {
            self.discard(sha256)?;
            return Err(SinkError::Damaged(format!("its sha256 is {actual}")));
        }
        std::fs::rename(&path, self.path(sha256))
            .map_err(failed(format!("renaming {}", path.display())))
    }

    fn available(&self) -> Result<u64, SinkError> {
        crate::platform::disk::available_bytes(&self.dir).map_err(failed(format!(
            "reading the free space of {}",
            self.dir.display()
        )))
    }

    fn discard(&self, sha256: &str) -> Result<(), SinkError> {
        match std::fs::remove_file(self.partial_path(sha256)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SinkError::Failed(format!(
                "removing a partial download: {e}"
            ))),
            _ => Ok(()),
        }
    }
}

/// sha256 and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), NetError> {
    let mut file = File::open(path).map_err(NetError::io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut length = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(NetError::io(format!("reading {}", path.display())))?;
        if read == 0 {
            return Ok((hex::encode(hasher.finalize()), length));
        }
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
}
