//! Data codewords to payload bytes and text (ISO/IEC 18004 §7.4): numeric, alphanumeric, byte,
//! Kanji and Hanzi (GB/T 18284) segments, ECI charset switches, FNC1 (GS1) and structured-append headers.
//!
//! Each byte segment is read in the charset of the ECI before it; byte segments without one are
//! read in the charset guessed over all of them (ZXing's rules: UTF-8 if it holds multi-byte
//! sequences, Shift_JIS if it reads as Japanese, else ISO-8859-1); Kanji segments are Shift_JIS.

use encoding_rs::{Encoding, GBK, SHIFT_JIS, UTF_8};

/// Why the data codewords do not hold a valid payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentError {
    /// A segment runs past the end of the data.
    Truncated,
    /// A mode or ECI this decoder does not know (rather than a guess that could be wrong).
    Unsupported,
    /// Bytes invalid in the charset their ECI names.
    Charset,
}

/// The decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Segment bytes concatenated (digits and letters as ASCII, Kanji as Shift_JIS, Hanzi as
    /// GB2312).
    pub bytes: Vec<u8>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Digits and alphanumerics: ASCII.
    Ascii,
    /// Bytes with no ECI before them: guessed.
    Unknown,
    Latin1,
    Encoding(&'static Encoding),
}

struct Bits<'a> {
    data: &'a [u8],
    position: usize,
}

impl Bits<'_> {
    fn remaining(&self) -> usize {
        self.data.len() * 8 - self.position
    }

    fn take(&mut self, count: usize) -> Result<u32, SegmentError> {
        if count > self.remaining() {
            return Err(SegmentError::Truncated);
        }
        let mut value = 0u32;
        for _ in 0..count {
            let byte = self.data[self.position / 8];
            value = (value << 1) | u32::from((byte >> (7 - self.position % 8)) & 1);
            self.position += 1;
        }
        Ok(value)
    }
}

const ALPHANUMERIC: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

pub(crate) fn parse(data: &[u8], version: usize) -> Result<Payload, SegmentError> {
    let size_class = match version {
        0..=9 => 0,
        10..=26 => 1,
        _ => 2,
    };
    let count_bits = |bits: [usize; 3]| bits[size_class];
    let mut bits = Bits { data, position: 0 };
    let mut pieces: Vec<(Vec<u8>, Charset)> = Vec::new();
    let mut charset = Charset::Unknown;
    let mut gs1 = false;
    while bits.remaining() >= 4 {
        match bits.take(4)? {
            0 => break,
            1 => {
                let mut count = bits.take(count_bits([10, 12, 14]))? as usize;
                let mut digits = Vec::with_capacity(count);
                while count > 0 {
                    let n = count.min(3);
                    let value = bits.take([0, 4, 7, 10][n])?;
                    if value >= [1, 10, 100, 1000][n] {
                        return Err(SegmentError::Truncated);
                    }
                    digits.extend(format!("{value:0n$}").bytes());
                    count -= n;
                }
                pieces.push((digits, Charset::Ascii));
            }
            2 => {
                let mut count = bits.take(count_bits([9, 11, 13]))? as usize;
                let mut text = Vec::with_capacity(count);
                while count > 0 {
                    if count >= 2 {
                        let value = bits.take(11)? as usize;
                        if value >= 45 * 45 {
                            return Err(SegmentError::Truncated);
                        }
                        text.push(ALPHANUMERIC[value / 45]);
                        text.push(ALPHANUMERIC[value % 45]);
                        count -= 2;
                    } else {
                        let value = bits.take(6)? as usize;
                        text.push(*ALPHANUMERIC.get(value).ok_or(SegmentError::Truncated)?);
                        count -= 1;
                    }
                }
                if gs1 {
                    text = gs1_alphanumeric(&text);
                }
                pieces.push((text, Charset::Ascii));
            }
            4 => {
                let count = bits.take(count_bits([8, 16, 16]))? as usize;
                if count * 8 > bits.remaining() {
                    return Err(SegmentError::Truncated);
                }
                let bytes = (0..count)
                    .map(|_| bits.take(8).map(|b| b as u8))
                    .collect::<Result<Vec<u8>, _>>()?;
                pieces.push((bytes, charset));
            }
            8 => {
                let count = bits.take(count_bits([8, 10, 12]))? as usize;
                let mut bytes = Vec::with_capacity(count * 2);
                for _ in 0..count {
                    let value = bits.take(13)?;
                    let combined = (value / 0xC0) << 8 | (value % 0xC0);
                    let sjis = if combined + 0x8140 <= 0x9FFC {
                        combined + 0x8140
                    } else {
                        combined + 0xC140
                    };
                    bytes.push((sjis >> 8) as u8);
                    bytes.push(sjis as u8);
                }
                pieces.push((bytes, Charset::Encoding(SHIFT_JIS)));
            }
            // Hanzi (GB/T 18284): a subset indicator (1 = GB2312), then 13-bit characters.
            13 => {
                if bits.take(4)? != 1 {
                    return Err(SegmentError::Unsupported);
                }
                let count = bits.take(count_bits([8, 10, 12]))? as usize;
                let mut bytes = Vec::with_capacity(count * 2);
                for _ in 0..count {
                    let value = bits.take(13)?;
                    let combined = (value / 0x60) << 8 | (value % 0x60);
                    let gb = combined + if combined < 0x0A00 { 0xA1A1 } else { 0xA6A1 };
                    bytes.push((gb >> 8) as u8);
                    bytes.push(gb as u8);
                }
                pieces.push((bytes, Charset::Encoding(GBK)));
            }
            7 => charset = eci_charset(read_eci(&mut bits)?)?,
            // Structured append: symbol index, count and parity; the text is this symbol's part.
            3 => {
                bits.take(16)?;
            }
            5 => gs1 = true,
            // FNC1 in second position: an application indicator follows.
            9 => {
                bits.take(8)?;
            }
            _ => return Err(SegmentError::Unsupported),
        }
    }
    text_of(pieces)
}

/// In GS1 alphanumeric data `%` stands for the FNC1 separator (0x1D) and `%%` for `%`.
fn gs1_alphanumeric(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            if text.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 2;
            } else {
                out.push(0x1D);
                i += 1;
            }
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

fn read_eci(bits: &mut Bits<'_>) -> Result<u32, SegmentError> {
    let first = bits.take(8)?;
    if first & 0x80 == 0 {
        Ok(first)
    } else if first & 0xC0 == 0x80 {
        Ok((first & 0x3F) << 8 | bits.take(8)?)
    } else if first & 0xE0 == 0xC0 {
        Ok((first & 0x1F) << 16 | bits.take(16)?)
    } else {
        Err(SegmentError::Unsupported)
    }
}

fn eci_charset(eci: u32) -> Result<Charset, SegmentError> {
    let label: &[u8] = match eci {
        1 | 3 => return Ok(Charset::Latin1),
        4 => b"iso-8859-2",
        5 => b"iso-8859-3",
        6 => b"iso-8859-4",
        7 => b"iso-8859-5",
        8 => b"iso-8859-6",
        9 => b"iso-8859-7",
        10 => b"iso-8859-8",
        11 => b"iso-8859-9",
        12 => b"iso-8859-10",
        13 => b"windows-874",
        15 => b"iso-8859-13",
        16 => b"iso-8859-14",
        17 => b"iso-8859-15",
        18 => b"iso-8859-16",
        20 => b"shift_jis",
        21 => b"windows-1250",
        22 => b"windows-1251",
        23 => b"windows-1252",
        24 => b"windows-1256",
        25 => b"utf-16be",
        26 => b"utf-8",
        27 => return Ok(Charset::Latin1),
        28 => b"big5",
        29 => b"gb18030",
        30 => b"euc-kr",
        _ => return Err(SegmentError::Unsupported),
    };
    Encoding::for_label(label)
        .map(Charset::Encoding)
        .ok_or(SegmentError::Unsupported)
}

fn text_of(pieces: Vec<(Vec<u8>, Charset)>) -> Result<Payload, SegmentError> {
    let unknown: Vec<u8> = pieces
        .iter()
        .filter(|(_, c)| *c == Charset::Unknown)
        .flat_map(|(b, _)| b.iter().copied())
        .collect();
    let guessed = guess(&unknown);
    let mut text = String::new();
    let mut bytes = Vec::new();
    for (piece, charset) in pieces {
        let was_guessed = charset == Charset::Unknown;
        let charset = if was_guessed { guessed } else { charset };
        let decoded = match charset {
            Charset::Ascii | Charset::Latin1 | Charset::Unknown => None,
            Charset::Encoding(encoding) => {
                encoding.decode_without_bom_handling_and_without_replacement(&piece)
            }
        };
        match decoded {
            Some(decoded) => text.push_str(&decoded),
            // A named charset the bytes break is an error; a guess that fails falls back to
            // ISO-8859-1, which reads any bytes.
            None if was_guessed || matches!(charset, Charset::Ascii | Charset::Latin1) => {
                text.extend(piece.iter().map(|&b| char::from(b)));
            }
            None => return Err(SegmentError::Charset),
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(Payload { bytes, text })
}

/// ZXing's `StringUtils.guessEncoding` for bytes without an ECI.
fn guess(bytes: &[u8]) -> Charset {
    if bytes.iter().all(|&b| b < 0x80) {
        return Charset::Latin1;
    }
    let utf8 = std::str::from_utf8(bytes).is_ok();
    if utf8 {
        // Not ASCII and valid UTF-8: multi-byte sequences are there.
        return Charset::Encoding(UTF_8);
    }
    let latin1 = !bytes.iter().any(|&b| (0x80..0xA0).contains(&b));
    let latin1_other = bytes
        .iter()
        .filter(|&&b| (0xA0..0xC0).contains(&b) || b == 0xD7 || b == 0xF7)
        .count();
    let sjis = ShiftJisStats::of(bytes);
    if let Some(s) = &sjis
        && (s.max_katakana_run >= 3 || s.max_double_run >= 3)
    {
        return Charset::Encoding(SHIFT_JIS);
    }
    match (latin1, sjis) {
        (true, Some(s)) => {
            if (s.max_katakana_run == 2 && s.katakana == 2) || latin1_other * 10 >= bytes.len() {
                Charset::Encoding(SHIFT_JIS)
            } else {
                Charset::Latin1
            }
        }
        (true, None) => Charset::Latin1,
        (false, Some(_)) => Charset::Encoding(SHIFT_JIS),
        (false, None) => Charset::Latin1,
    }
}

struct ShiftJisStats {
    katakana: usize,
    max_katakana_run: usize,
    max_double_run: usize,
}

impl ShiftJisStats {
    /// `None` when the bytes are not Shift_JIS.
    fn of(bytes: &[u8]) -> Option<Self> {
        let mut stats = Self {
            katakana: 0,
            max_katakana_run: 0,
            max_double_run: 0,
        };
        let (mut trail_left, mut katakana_run, mut double_run) = (0, 0, 0);
        for &b in bytes {
            if trail_left > 0 {
                if b < 0x40 || b == 0x7F || b > 0xFC {
                    return None;
                }
                trail_left -= 1;
            } else if b == 0x80 || b == 0xA0 || b > 0xEF {
                return None;
            } else if b > 0xA0 && b < 0xE0 {
                stats.katakana += 1;
                double_run = 0;
                katakana_run += 1;
                stats.max_katakana_run = stats.max_katakana_run.max(katakana_run);
            } else if b > 0x7F {
                trail_left += 1;
                katakana_run = 0;
                double_run += 1;
                stats.max_double_run = stats.max_double_run.max(double_run);
            } else {
                katakana_run = 0;
                double_run = 0;
            }
        }
        (trail_left == 0).then_some(stats)
    }
}
