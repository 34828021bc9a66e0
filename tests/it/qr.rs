//! QR decoding (X2): the corpus regression floor, `hologuide qr decode` on real files and
//! `hologuide bench qr` on a small corpus written here.

use std::path::{Path, PathBuf};

use hologuide::qr::corpus::{self, Floor};
use hologuide::qr::file::load_gray;
use hologuide::qr::{Decoder, GrayFrame};
use serde_json::Value;

use crate::support::*;

/// The photo corpus: `HOLOGUIDE_QR_CORPUS`, else the shared folder beside the repository.
fn corpus_dir() -> PathBuf {
    std::env::var_os("HOLOGUIDE_QR_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus/qr"))
}

/// The decode count on the real photo corpus may only go up, and wrong decodes only down: the
/// floor is committed and raised only by `hologuide bench qr <dir> --raise-floor <file>`.
#[test]
fn corpus_decode_count_never_drops_below_the_committed_floor() {
    let floor_file = data("qr/corpus-floor.txt");
    let floor = Floor::parse(&std::fs::read_to_string(&floor_file).unwrap()).unwrap();
    let dir = corpus_dir();
    let images = corpus::load(&dir).unwrap_or_else(|e| {
        panic!(
            "the QR corpus is needed ({}; set HOLOGUIDE_QR_CORPUS): {e}",
            dir.display()
        )
    });
    let mut decoder = Decoder::new();
    let (mut decoded, mut wrong) = (0, 0);
    for image in &images {
        let gray = load_gray(&image.path).unwrap();
        let texts: Vec<Vec<String>> = decoder
            .decode(&gray.frame().unwrap())
            .into_iter()
            .map(|d| vec![d.text])
            .collect();
        let score = corpus::score(&image.expected, &texts);
        decoded += score.correct;
        wrong += score.wrong;
    }
    assert!(
        decoded >= floor.decoded && wrong <= floor.wrong,
        "decoded {decoded} (floor {}), wrong {wrong} (at most {})",
        floor.decoded,
        floor.wrong
    );
}

#[test]
fn qr_decode_reads_each_image_and_reports_bad_files_without_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("sticker.png");
    write_code_png(
        &good,
        "hologuide://acme/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d/s/3",
    );
    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, "these are not pixels").unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.webp");

    let output = run(hologuide()
        .args(["qr", "decode", "--json"])
        .args([&not_image, &good, &empty, &missing]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0]["error"].as_str().unwrap().contains("not an image"));
    let codes = lines[1]["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(
        codes[0]["text"],
        "hologuide://acme/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d/s/3"
    );
    assert_eq!(codes[0]["corners"].as_array().unwrap().len(), 4);
    assert!(lines[2]["error"].as_str().unwrap().contains("empty"));
    assert!(lines[3]["error"].as_str().unwrap().contains("cannot read"));
    let errors = stderr(&output);
    assert!(
        errors.contains("notes.png") && errors.contains("missing.webp"),
        "{errors}"
    );

    let text = run(hologuide().args(["qr", "decode"]).arg(&good));
    assert!(text.status.success());
    assert!(stdout(&text).contains("1 code in"), "{}", stdout(&text));
}

/// A two-image corpus: the summary line counts exactly, and the floor only moves up.
#[test]
fn bench_qr_prints_per_folder_rows_and_the_summary_line_and_raises_the_floor_only_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (folder, name, text) in [("a/one", "1", "first code"), ("b/two", "2", "second code")] {
        std::fs::create_dir_all(root.join("images").join(folder)).unwrap();
        std::fs::create_dir_all(root.join("expected").join(folder)).unwrap();
        write_code_png(&root.join(format!("images/{folder}/{name}.png")), text);
        std::fs::write(root.join(format!("expected/{folder}/{name}.txt")), text).unwrap();
    }
    // The second image's expected text is not what the code holds: a wrong decode.
    std::fs::write(root.join("expected/b/two/2.txt"), "something else").unwrap();
    std::fs::write(
        root.join("manifest.tsv"),
        "path\tsource\tcodes\texpected\n\
         images/a/one/1.png\ta/one\t1\texpected/a/one/1.txt\n\
         images/b/two/2.png\tb/two\t1\texpected/b/two/2.txt\n",
    )
    .unwrap();
    let floor = root.join("floor.txt");
    std::fs::write(
        &floor,
        Floor {
            decoded: 0,
            wrong: 1,
        }
        .to_text(),
    )
    .unwrap();

    let output = run(hologuide()
        .args(["bench", "qr", "--runs", "1", "--raise-floor"])
        .arg(&floor)
        .arg(root));
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("| a/one | 1 | 1 | 1 (100%) / 0 /"), "{out}");
    assert!(out.contains("| b/two | 1 | 1 | 0 (0%) / 1 /"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("ours 50.0% (1/2) wrong 1 median ")
            && last.contains(" | quircs 50.0% (1/2) wrong 1 median ")
            && last.contains(" | rxing "),
        "{last}"
    );
    let raised = Floor::parse(&std::fs::read_to_string(&floor).unwrap()).unwrap();
    assert_eq!(
        raised,
        Floor {
            decoded: 1,
            wrong: 1
        }
    );

    std::fs::write(
        &floor,
        Floor {
            decoded: 5,
            wrong: 0,
        }
        .to_text(),
    )
    .unwrap();
    let refused = run(hologuide()
        .args(["bench", "qr", "--ours-only", "--runs", "1", "--raise-floor"])
        .arg(&floor)
        .arg(root));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not raising the floor"),
        "{}",
        stderr(&refused)
    );
    let kept = Floor::parse(&std::fs::read_to_string(&floor).unwrap()).unwrap();
    assert_eq!(
        kept,
        Floor {
            decoded: 5,
            wrong: 0
        }
    );
}

/// A PNG that declares 20000x20000 pixels in its header (and holds none): refused from the
/// header, before anything is allocated for it.
fn write_huge_png_header(path: &Path) {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crate::support::png_crc32(&ihdr).to_be_bytes());
    // An empty data chunk: the header is complete, the pixels are not there.
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IDAT");
    png.extend_from_slice(&crate::support::png_crc32(b"IDAT").to_be_bytes());
    std::fs::write(path, png).unwrap();
}

#[test]
fn qr_decode_refuses_an_image_too_large_for_a_camera_frame_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.png");
    write_huge_png_header(&huge);
    let good = dir.path().join("after.png");
    write_code_png(&good, "still decoded");
    let output = run(hologuide().args(["qr", "decode"]).args([&huge, &good]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("huge.png") && stderr(&output).contains("larger than"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("\"still decoded\""),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_frame_with_row_padding_decodes_like_the_packed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("code.png");
    write_code_png(&path, "stride test");
    let gray = load_gray(&path).unwrap();
    let stride = gray.width + 13;
    let mut padded = vec![77u8; stride * gray.height];
    for y in 0..gray.height {
        padded[y * stride..y * stride + gray.width]
            .copy_from_slice(&gray.pixels[y * gray.width..(y + 1) * gray.width]);
    }
    let frame = GrayFrame::new(&padded, gray.width, gray.height, stride).unwrap();
    let found = Decoder::new().decode(&frame);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].text, "stride test");
}
