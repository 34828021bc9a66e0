//! Hidden developer commands around the cache: the writer the kill -9 test shoots at, and the
//! cold start measured by `hologuide bench cache`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use hologuide::cache::package::{PackagedVersion, from_package};
use hologuide::client::DataFolder;

/// Bytes of the extra file each written version carries, so a write takes long enough for a
/// kill to land in the middle of it.
const EXTRA_BYTES: usize = 512 * 1024;
/// Piece size of the resumable write, like the buffers of an HTTP download.
const PIECE: usize = 32 * 1024;

/// Reproducible filler bytes that differ per version (xorshift).
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The demo guide as version `version`, with a version-specific extra file.
pub fn demo_version(version: u32) -> anyhow::Result<PackagedVersion> {
    let package = hologuide::demo::load().context("opening the demo guide")?;
    let mut packaged = from_package(&package, version, None)?;
    packaged.add_asset(
        &format!("media/scan-{version}.bin"),
        filler(u64::from(version), EXTRA_BYTES),
    );
    Ok(packaged)
}

/// Writes new versions of the demo guide into `user`'s cache, one after the other, printing
/// `committed N` after each; the extra file goes through the resumable path piece by piece,
/// resuming what a killed predecessor left.
pub fn write_loop(data_dir: &Path, user: &str, versions: Option<u32>) -> anyhow::Result<ExitCode> {
    let store = DataFolder::open(data_dir)?.open_store(user)?;
    let first = store
        .current(hologuide::demo::GUIDE_ID)?
        .map_or(1, |current| current.version + 1);
    let last = versions.map_or(u32::MAX, |n| first.saturating_add(n - 1));
    for version in first..=last {
        let packaged = demo_version(version)?;
        let writer = store.begin_version(packaged.version.clone())?;
        for (sha, bytes) in &packaged.blobs {
            if bytes.len() < EXTRA_BYTES {
                writer.put_blob(sha, bytes)?;
                continue;
            }
            let mut at = store.partial_len(sha)?;
            while (at as usize) < bytes.len() {
                let end = (at as usize + PIECE).min(bytes.len());
                at = store.append_partial(sha, at, &bytes[at as usize..end])?;
            }
            store.finish_partial(sha)?;
        }
        writer.commit()?;
        super::out(&format!("committed {version}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens `user`'s cache, reads the demo guide's current version and the files of its first
/// step, and prints that step: what an app started offline does before its first frame.
pub fn first_step(data_dir: &Path, user: &str) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = DataFolder::open(data_dir)?.open_store(user)?;
    let version = store
        .current(hologuide::demo::GUIDE_ID)?
        .context("the demo guide is not in this cache")?;
    let guide = version.decode_guide()?;
    let step = guide.step(0).context("the guide has no step")?;
    let mut bytes = 0;
    for hologram in &step.step.holograms {
        let asset = version
            .asset(&hologram.asset)
            .with_context(|| format!("{} is not in the cached version", hologram.asset))?;
        bytes += store.read_blob(&asset.sha256)?.len();
    }
    super::out(&format!(
        "step 1 of {}: {}\n{}\n({} hologram bytes, {:.1} ms in process)\n",
        guide.step_count(),
        step.step.title,
        step.step.body,
        bytes,
        started.elapsed().as_secs_f64() * 1000.0
    ))?;
    Ok(ExitCode::SUCCESS)
}
