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

    use super::super::binarize::Plane;
    use super::super::{Decoder, Detection, EccLevel, GrayFrame, Point, corners, segments, symbol};

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

        /// Corner refinement sees whatever grid a read left: collapsed, crossed, far outside
        /// the frame or not finite. It refines or leaves the corners alone, never panics, and
        /// never makes them non-finite.
        #[test]
        fn corner_refinement_of_arbitrary_quadrilaterals_never_panics(
            coordinates in proptest::collection::vec(-300.0f32..600.0, 8),
            not_finite in any::<bool>(),
            version in 1u8..=40,
            seed in any::<u64>(),
        ) {
            let (width, height) = (97, 61);
            let mut state = seed | 1;
            let pixels: Vec<u8> = (0..width * height)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if state & 1 == 0 { 30 } else { 220 }
                })
                .collect();
            let frame = GrayFrame::new(&pixels, width, height, width).unwrap();
            let mut corners = [0, 1, 2, 3].map(|i| Point { x: coordinates[2 * i], y: coordinates[2 * i + 1] });
            if not_finite {
                corners[2].x = f32::NAN;
            }
            let mut detection = Detection {
                payload: Vec::new(),
                text: String::new(),
                version,
                ecc: EccLevel::L,
                corners,
                mirrored: false,
                inverted: seed & 2 == 0,
            };
            if corners::refine(&Plane::from_frame(&frame, 1), &mut detection, seed & 4 == 0) {
                prop_assert!(detection.corners.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
            } else {
                prop_assert_eq!(detection.corners.map(|p| p.x.to_bits()), corners.map(|p| p.x.to_bits()));
            }
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

mod segment_parsing {
    use super::super::segments::parse;

    /// Packs (value, bit count) fields into codewords, zero-padded.
    fn pack(fields: &[(u32, usize)]) -> Vec<u8> {
        let mut bits = Vec::new();
        for &(value, count) in fields {
            for i in (0..count).rev() {
                bits.push((value >> i) & 1 == 1);
            }
        }
        bits.chunks(8)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u8, |byte, (i, &b)| byte | (u8::from(b) << (7 - i)))
            })
            .collect()
    }

    #[test]
    fn byte_kanji_and_hanzi_segments_each_read_in_their_own_charset() {
        // "A" (byte), 点 (Kanji, Shift_JIS 0x935F), 阿 (Hanzi, GB2312 0xB0A2), "1" (numeric).
        let data = pack(&[
            (0b0100, 4),
            (1, 8),
            (u32::from(b'A'), 8),
            (0b1000, 4),
            (1, 8),
            (0x12 * 0xC0 + 0x1F, 13),
            (0b1101, 4),
            (1, 4),
            (1, 8),
            (0x0A * 0x60 + 0x01, 13),
            (0b0001, 4),
            (1, 10),
            (1, 4),
            (0, 4),
        ]);
        let payload = parse(&data, 1).unwrap();
        assert_eq!(payload.text, "A点阿1");
        assert_eq!(payload.bytes, [b'A', 0x93, 0x5F, 0xB0, 0xA2, b'1']);
    }

    #[test]
    fn gs1_alphanumeric_percent_is_the_group_separator_and_double_percent_a_percent() {
        // FNC1 first position, then alphanumeric "01%A%%".
        let alnum = |a: u8, b: u8| {
            let index = |c| {
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
                    .iter()
                    .position(|&x| x == c)
                    .unwrap() as u32
            };
            (index(a) * 45 + index(b), 11)
        };
        let data = pack(&[
            (0b0101, 4),
            (0b0010, 4),
            (6, 9),
            alnum(b'0', b'1'),
            alnum(b'%', b'A'),
            alnum(b'%', b'%'),
            (0, 4),
        ]);
        assert_eq!(parse(&data, 1).unwrap().text, "01\u{1d}A%");
    }

    #[test]
    fn utf8_eci_and_unguessable_latin1_bytes_are_read_as_declared_or_as_latin1() {
        let mut fields = vec![
            (0b0111, 4),
            (26, 8),
            (0b0100, 4),
            (2, 8),
            (0xC3, 8),
            (0xA9, 8),
        ];
        fields.push((0, 4));
        assert_eq!(parse(&pack(&fields), 1).unwrap().text, "é");
        // 0xE9 alone is not UTF-8 nor Shift_JIS text: ISO-8859-1.
        let data = pack(&[(0b0100, 4), (2, 8), (u32::from(b'n'), 8), (0xE9, 8), (0, 4)]);
        assert_eq!(parse(&data, 1).unwrap().text, "né");
    }

    #[test]
    fn a_segment_running_past_the_data_or_an_unknown_mode_is_refused() {
        assert!(parse(&pack(&[(0b0100, 4), (200, 8), (1, 8)]), 1).is_err());
        assert!(parse(&pack(&[(0b1111, 4), (0, 12)]), 1).is_err());
    }
}

/// The first look at a camera frame is at half size: each pixel the mean of its 2×2 block
/// (rounded down), read through the frame's stride, an odd last column and row left out.
#[test]
fn half_size_plane_is_the_mean_of_each_2x2_block_of_a_strided_frame() {
    use super::binarize::Plane;
    let (width, height, stride) = (7, 5, 10);
    let pixels: Vec<u8> = (0..stride * height).map(|i| (i * 37 % 251) as u8).collect();
    let frame = GrayFrame::new(&pixels, width, height, stride).unwrap();
    let half = Plane::from_frame(&frame, 2);
    assert_eq!((half.width, half.height), (3, 2));
    for y in 0..2 {
        for x in 0..3 {
            let at = |dx: usize, dy: usize| u32::from(pixels[(2 * y + dy) * stride + 2 * x + dx]);
            let mean = (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4;
            assert_eq!(u32::from(half.row(y)[x]), mean, "pixel ({x}, {y})");
        }
    }
    // Factor 3 (the general box filter) agrees with the same rule.
    let third = Plane::from_frame(&frame, 3);
    let mean: u32 = (0..3)
        .flat_map(|dy| (0..3).map(move |dx| (dx, dy)))
        .map(|(dx, dy)| u32::from(pixels[dy * stride + dx]))
        .sum::<u32>()
        / 9;
    assert_eq!(u32::from(third.row(0)[0]), mean);
}

/// At scale 1 the decoder reads the caller's frame where it lies (the Y plane of an NV12 frame
/// is not copied): the plane's rows are the frame's own memory.
#[test]
fn full_size_plane_borrows_the_frame_without_copying() {
    use super::binarize::Plane;
    let pixels = vec![7u8; 16 * 4];
    let frame = GrayFrame::new(&pixels, 12, 4, 16).unwrap();
    let plane = Plane::from_frame(&frame, 1);
    assert!(std::ptr::eq(plane.row(2).as_ptr(), pixels[32..].as_ptr()));
    assert_eq!(plane.row(3).len(), 12);
}
