//! A QR symbol's modules to its data codewords: format information, unmasking, codeword order,
//! de-interleaving and error correction (ISO/IEC 18004 §7).
//!
//! Our own rather than `quircs`' decode so that the corrected codewords reach our segment parser
//! (FNC1/GS1, structured append, a charset per segment), and so that the format is read as the
//! nearest valid code word of both copies.

use quircs::VERSION_DB;

use super::EccLevel;
use super::reed_solomon;

/// Why modules did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymbolError {
    Size,
    Format,
    Correction,
}

/// The corrected data codewords of a symbol.
#[derive(Debug, Clone)]
pub(crate) struct Codewords {
    pub version: usize,
    pub ecc: EccLevel,
    pub data: Vec<u8>,
}

/// Decodes a `size`×`size` module matrix (`dark(x, y)`, x right, y down).
pub(crate) fn decode(
    size: usize,
    dark: &dyn Fn(usize, usize) -> bool,
) -> Result<Codewords, SymbolError> {
    if !(21..=177).contains(&size) || !(size - 17).is_multiple_of(4) {
        return Err(SymbolError::Size);
    }
    let version = (size - 17) / 4;
    let (ecc, mask) = read_format(size, dark)?;
    let raw = read_codewords(size, version, mask, dark);
    let data = correct(version, ecc, &raw)?;
    Ok(Codewords { version, ecc, data })
}

/// The 32 valid format words (5 data bits, BCH(15,5), XOR 0x5412).
fn format_word(bits: u16) -> u16 {
    let mut value = bits << 10;
    for i in (10..15).rev() {
        if value & (1 << i) != 0 {
            value ^= 0x537 << (i - 10);
        }
    }
    ((bits << 10) | value) ^ 0x5412
}

/// Error correction level and mask from whichever format copy is nearest a valid word (at most
/// 3 bits off, the code's correction capacity).
fn read_format(
    size: usize,
    dark: &dyn Fn(usize, usize) -> bool,
) -> Result<(EccLevel, u8), SymbolError> {
    let bit = |x: usize, y: usize| u16::from(dark(x, y));
    // Copy 1 around the top-left finder, bit 14 first.
    let mut first = 0u16;
    for &(x, y) in &[
        (0, 8),
        (1, 8),
        (2, 8),
        (3, 8),
        (4, 8),
        (5, 8),
        (7, 8),
        (8, 8),
        (8, 7),
        (8, 5),
        (8, 4),
        (8, 3),
        (8, 2),
        (8, 1),
        (8, 0),
    ] {
        first = (first << 1) | bit(x, y);
    }
    // Copy 2 split between the bottom-left and top-right finders, bit 14 first.
    let mut second = 0u16;
    for i in 0..7 {
        second = (second << 1) | bit(8, size - 1 - i);
    }
    for i in 0..8 {
        second = (second << 1) | bit(size - 8 + i, 8);
    }
    let mut best: Option<(u32, u16)> = None;
    for bits in 0..32u16 {
        let word = format_word(bits);
        let distance = (word ^ first)
            .count_ones()
            .min((word ^ second).count_ones());
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, bits));
        }
    }
    match best {
        Some((distance, bits)) if distance <= 3 => {
            let ecc = match bits >> 3 {
                0b01 => EccLevel::L,
                0b00 => EccLevel::M,
                0b11 => EccLevel::Q,
                _ => EccLevel::H,
            };
            Ok((ecc, (bits & 7) as u8))
        }
        _ => Err(SymbolError::Format),
    }
}

fn mask_flips(mask: u8, row: usize, col: usize) -> bool {
    let (i, j) = (row, col);
    match mask {
        0 => (i + j) % 2 == 0,
        1 => i % 2 == 0,
        2 => j % 3 == 0,
        3 => (i + j) % 3 == 0,
        4 => (i / 2 + j / 3) % 2 == 0,
        5 => (i * j) % 2 + (i * j) % 3 == 0,
        6 => ((i * j) % 2 + (i * j) % 3) % 2 == 0,
        _ => ((i * j) % 3 + (i + j) % 2) % 2 == 0,
    }
}

/// Which modules (row-major) belong to a function pattern (finder, separator, format, timing,
/// alignment, version information) rather than to data.
fn function_modules(version: usize, size: usize) -> Vec<bool> {
    let mut function = vec![false; size * size];
    let mut mark = |row: usize, col: usize| function[row * size + col] = true;
    for i in 0..size {
        for j in 0..size {
            let finder_or_format = (i < 9 && (j < 9 || j + 8 >= size)) || (i + 8 >= size && j < 9);
            let timing = i == 6 || j == 6;
            let version_info =
                version >= 7 && ((i < 6 && j + 11 >= size) || (i + 11 >= size && j < 6));
            if finder_or_format || timing || version_info {
                mark(i, j);
            }
        }
    }
    let centres: Vec<usize> = VERSION_DB[version]
        .apat
        .iter()
        .take_while(|&&p| p != 0)
        .map(|&p| p as usize)
        .collect();
    let last = centres.len().saturating_sub(1);
    for (a, &row) in centres.iter().enumerate() {
        for (b, &col) in centres.iter().enumerate() {
            // The three corners holding finder patterns carry no alignment pattern.
            if (a == 0 && (b == 0 || b == last)) || (a == last && b == 0) {
                continue;
            }
            for i in row.saturating_sub(2)..=(row + 2).min(size - 1) {
                for j in col.saturating_sub(2)..=(col + 2).min(size - 1) {
                    mark(i, j);
                }
            }
        }
    }
    function
}

/// The raw codewords in placement order: two-module columns from the right, zig-zagging up and
/// down, skipping the vertical timing column.
fn read_codewords(
    size: usize,
    version: usize,
    mask: u8,
    dark: &dyn Fn(usize, usize) -> bool,
) -> Vec<u8> {
    let total = VERSION_DB[version].data_bytes as usize;
    let function = function_modules(version, size);
    let mut bytes = Vec::with_capacity(total);
    let (mut current, mut bits) = (0u8, 0);
    let mut col = size as isize - 1;
    let mut upward = true;
    while col > 0 {
        if col == 6 {
            col -= 1;
        }
        for step in 0..size {
            let row = if upward { size - 1 - step } else { step };
            for dx in 0..2 {
                let c = (col - dx) as usize;
                if function[row * size + c] {
                    continue;
                }
                let bit = dark(c, row) != mask_flips(mask, row, c);
                current = (current << 1) | u8::from(bit);
                bits += 1;
                if bits == 8 {
                    if bytes.len() < total {
                        bytes.push(current);
                    }
                    current = 0;
                    bits = 0;
                }
            }
        }
        upward = !upward;
        col -= 2;
    }
    bytes
}

/// Codewords the standard reserves for misdecode protection instead of correction, for the
/// smallest symbols (ISO/IEC 18004 Table 9, "p").
fn misdecode_protection(version: usize, ecc: EccLevel) -> usize {
    match (version, ecc) {
        (1, EccLevel::L) => 3,
        (1, EccLevel::M) | (2, EccLevel::L) => 2,
        (1, _) | (3, EccLevel::L) => 1,
        _ => 0,
    }
}

/// De-interleaves the blocks, corrects each and returns the data codewords in order.
pub(crate) fn correct(version: usize, ecc: EccLevel, raw: &[u8]) -> Result<Vec<u8>, SymbolError> {
    let info = &VERSION_DB[version];
    // quircs' table is indexed by the format field's value: M, L, H, Q.
    let params = &info.ecc[match ecc {
        EccLevel::M => 0,
        EccLevel::L => 1,
        EccLevel::H => 2,
        EccLevel::Q => 3,
    }];
    let total = info.data_bytes as usize;
    let (short_len, short_data, short_count) =
        (params.bs as usize, params.dw as usize, params.ns as usize);
    if raw.len() < total || short_len == 0 || short_len * short_count > total {
        return Err(SymbolError::Correction);
    }
    let long_count = (total - short_len * short_count) / (short_len + 1);
    let blocks = short_count + long_count;
    let parity = short_len - short_data;
    let data_len = |b: usize| short_data + usize::from(b >= short_count);
    let mut block_bytes: Vec<Vec<u8>> = (0..blocks)
        .map(|b| Vec::with_capacity(data_len(b) + parity))
        .collect();
    let mut next = raw.iter().copied();
    for i in 0..short_data + 1 {
        for (b, block) in block_bytes.iter_mut().enumerate() {
            if i < data_len(b) {
                block.push(next.next().ok_or(SymbolError::Correction)?);
            }
        }
    }
    for _ in 0..parity {
        for block in block_bytes.iter_mut() {
            block.push(next.next().ok_or(SymbolError::Correction)?);
        }
    }
    let max_errors = (parity - misdecode_protection(version, ecc).min(parity)) / 2;
    let mut data = Vec::with_capacity(total);
    for (b, mut block) in block_bytes.into_iter().enumerate() {
        reed_solomon::correct(&mut block, parity, max_errors).ok_or(SymbolError::Correction)?;
        data.extend_from_slice(&block[..data_len(b)]);
    }
    Ok(data)
}
