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
