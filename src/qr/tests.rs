use super::corpus::{Floor, Score, normalize, score};
use super::{GrayFrame, QrError};

#[test]
fn frame_refuses_a_stride_shorter_than_the_width() {
    let pixels = [0u8; 100];
    assert_eq!(
        GrayFrame::new(&pixels, 10, 5, 9).unwrap_err(),
        QrError::StrideTooSmall {
            width: 10,
            stride: 9
        }
    );
}

#[test]
fn frame_accepts_a_last_row_without_stride_padding() {
    let pixels = [0u8; 2 * 16 + 10];
    assert!(GrayFrame::new(&pixels, 10, 3, 16).is_ok());
    assert!(matches!(
        GrayFrame::new(&pixels[..41], 10, 3, 16),
        Err(QrError::BufferTooShort { needed: 42, .. })
    ));
}

#[test]
fn frame_refuses_empty_and_overflowing_sizes() {
    assert!(matches!(
        GrayFrame::new(&[], 0, 10, 0),
        Err(QrError::EmptyFrame { .. })
    ));
    assert!(matches!(
        GrayFrame::new(&[0], usize::MAX, 2, usize::MAX),
        Err(QrError::FrameTooLarge { .. })
    ));
}

#[test]
fn corpus_texts_compare_with_crlf_as_lf_and_one_trailing_newline_ignored() {
    assert_eq!(normalize("a\r\nb\n"), "a\nb");
    assert_eq!(normalize("a\n\n"), "a\n");
}

#[test]
fn a_decode_matching_no_expected_text_is_wrong_and_a_repeat_is_neither() {
    let expected = vec!["one".to_owned(), "two\n".to_owned()];
    let decodes = vec![
        vec!["two".to_owned()],
        vec!["two".to_owned()],
        vec!["three".to_owned()],
    ];
    assert_eq!(
        score(&expected, &decodes),
        Score {
            correct: 1,
            wrong: 1
        }
    );
}

#[test]
fn floor_file_round_trips_and_rejects_garbage() {
    let floor = Floor {
        decoded: 150,
        wrong: 0,
    };
    assert_eq!(Floor::parse(&floor.to_text()), Ok(floor));
    assert!(Floor::parse("decoded = many\nwrong = 0").is_err());
    assert!(Floor::parse("wrong = 0").is_err());
}

mod fuzz {
    //! Arbitrary frames and sizes (bounded cases, so CI time stays small): no panic, no
    //! out-of-bounds read, and every frame finishes well within a second.

    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::super::{Decoder, GrayFrame, segments, symbol};

    /// Far above the slowest legitimate frame here (about 10 ms in a debug build); a decoder
    /// stuck in a loop trips it.
    const HANG: Duration = Duration::from_secs(5);

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_sizes_strides_and_buffers_are_refused_or_decoded_without_panic(
            width in 0usize..80,
            height in 0usize..80,
            stride_extra in -3isize..20,
            length_delta in -40isize..40,
            seed in any::<u64>(),
        ) {
            let stride = (width as isize + stride_extra).max(0) as usize;
            let length = ((stride * height) as isize + length_delta).max(0) as usize;
            let mut state = seed | 1;
            let pixels: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            if let Ok(frame) = GrayFrame::new(&pixels, width, height, stride) {
                let started = Instant::now();
                Decoder::new().decode(&frame);
                prop_assert!(started.elapsed() < HANG);
            }
        }

        /// Blocky frames put finder-like shapes everywhere: the grouping and re-read paths run.
        #[test]
        fn blocky_frames_full_of_finder_like_shapes_decode_without_panic(
            blocks in proptest::collection::vec(any::<bool>(), 64..=400),
            block_px in 2usize..9,
        ) {
            let per_row = (blocks.len() as f64).sqrt() as usize;
            let side = per_row * block_px;
            let pixels: Vec<u8> = (0..side * side)
                .map(|i| {
                    let (x, y) = (i % side / block_px, i / side / block_px);
                    if blocks[(y * per_row + x) % blocks.len()] { 20 } else { 230 }
                })
                .collect();
            let frame = GrayFrame::new(&pixels, side, side, side).unwrap();
            let started = Instant::now();
            Decoder::new().decode(&frame);
            prop_assert!(started.elapsed() < HANG);
        }

        #[test]
        fn arbitrary_module_matrices_and_codewords_never_panic(
            version in 1usize..=40,
            seed in any::<u64>(),
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let size = 17 + 4 * version;
            let dark = |x: usize, y: usize| {
                (seed.rotate_left(((x * 31 + y * 17) % 64) as u32) ^ (x * y) as u64) & 1 == 1
            };
            let _ = symbol::decode(size, &dark);
            let _ = segments::parse(&data, version);
        }
    }
}
