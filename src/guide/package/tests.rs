use proptest::prelude::*;

use super::*;
use crate::guide::assets::{AssetKind, AssetUse, check_asset};

fn package_with_guide_json(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(GUIDE_FILE), bytes).unwrap();
    dir
}

#[test]
fn oversized_guide_json_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join(GUIDE_FILE)).unwrap();
    file.set_len(MAX_GUIDE_JSON_BYTES + 1).unwrap();
    let report = validate(dir.path()).unwrap();
    assert!(report.guide.is_none());
    assert_eq!(report.problems[0].rule, Rule::Package);
    assert!(
        report.problems[0].message.contains("larger than"),
        "{}",
        report.problems[0]
    );
}

#[test]
fn safe_relative_paths_stay_inside_the_package() {
    for good in ["models/pump.glb", "a.png", "deep/er/file.glb"] {
        assert_eq!(safe_relative_path(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../x.glb",
        "models/../../x",
        "models//x",
        "./x",
        "c:/x",
        "a\\b",
        "x\0",
    ] {
        assert!(safe_relative_path(bad).is_err(), "{bad:?}");
    }
}

/// An archive holding one entry of `size` zero bytes (which compress about 1,000 times).
fn archive_with_zeros(dir: &Path, size: usize) -> PathBuf {
    use std::io::Write;
    let archive = dir.join("zeros.zip");
    let mut writer = zip::ZipWriter::new(File::create(&archive).unwrap());
    writer
        .start_file("media/zeros.png", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(&vec![0u8; size]).unwrap();
    writer.finish().unwrap();
    archive
}

fn expansion_problems(report: &Report) -> usize {
    report
        .problems
        .iter()
        .filter(|p| p.rule == Rule::AssetTooLarge && p.message.contains("compressed size"))
        .count()
}

#[test]
fn an_entry_expanding_past_the_ratio_is_refused_and_a_small_one_is_not_held_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = validate(&archive_with_zeros(dir.path(), 4 * 1024 * 1024)).unwrap();
    assert_eq!(expansion_problems(&bomb), 1, "{:?}", bomb.problems);
    let small = validate(&archive_with_zeros(
        dir.path(),
        EXPANSION_FREE_BYTES as usize,
    ))
    .unwrap();
    assert_eq!(expansion_problems(&small), 0, "{:?}", small.problems);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_as_guide_json_are_reported_not_panicked_on(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = package_with_guide_json(&bytes);
        let report = validate(dir.path()).unwrap();
        prop_assert!(report.guide.is_none());
        prop_assert!(report.errors().count() >= 1);
    }

    #[test]
    fn arbitrary_bytes_after_a_zip_signature_never_panic(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("guide.zip");
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        std::fs::write(&archive, bytes).unwrap();
        if let Ok(report) = validate(&archive) {
            prop_assert!(report.guide.is_none());
        }
    }

    #[test]
    fn arbitrary_model_bytes_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..256),
        glb_header in any::<bool>(),
        extension in prop::sample::select(vec!["glb", "gltf", "png", "bin"]),
    ) {
        let mut bytes = if glb_header { b"glTF\x02\0\0\0".to_vec() } else { Vec::new() };
        bytes.extend(tail);
        let mut problems = Problems::default();
        let model = AssetUse { kind: AssetKind::Model, animation: Some("bob") };
        let name = format!("models/x.{extension}");
        check_asset(&name, &bytes, bytes.len() as u64, model, &JsonPath::root(), &mut problems, &|_| false);
        prop_assert!(problems.has_errors());
    }
}
