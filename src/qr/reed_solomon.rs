//! Reed-Solomon error correction over GF(256) as QR codes use it (primitive polynomial 0x11D,
//! generator roots α^0 … α^(n-1)): syndromes, Berlekamp-Massey, Chien search, Forney.

const fn tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11D;
        }
        i += 1;
    }
    // Doubled so products index without a modulo.
    while i < 512 {
        exp[i] = exp[i - 255];
        i += 1;
    }
    (exp, log)
}

const TABLES: ([u8; 512], [u8; 256]) = tables();
const EXP: [u8; 512] = TABLES.0;
const LOG: [u8; 256] = TABLES.1;

fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        EXP[usize::from(LOG[usize::from(a)]) + usize::from(LOG[usize::from(b)])]
    }
}

fn div(a: u8, b: u8) -> u8 {
    // Callers never divide by zero (b is a discrepancy or derivative checked non-zero).
    if a == 0 || b == 0 {
        0
    } else {
        EXP[usize::from(LOG[usize::from(a)]) + 255 - usize::from(LOG[usize::from(b)])]
    }
}

/// α^power, any power.
fn alpha(power: usize) -> u8 {
    EXP[power % 255]
}

/// Evaluates a polynomial with coefficients lowest degree first.
fn eval(poly: &[u8], x: u8) -> u8 {
    poly.iter().rev().fold(0, |acc, &c| mul(acc, x) ^ c)
}

/// Corrects `block` (data then `parity` check codewords, first codeword = highest degree) in
/// place, fixing at most `max_errors` codewords. Returns the number fixed, or `None` when the
/// block has more errors than that (or is not a codeword at all).
pub(crate) fn correct(block: &mut [u8], parity: usize, max_errors: usize) -> Option<usize> {
    let n = block.len();
    if parity == 0 || parity >= n || n > 255 {
        return None;
    }
    let syndrome = |block: &[u8]| -> Vec<u8> {
        (0..parity)
            .map(|j| block.iter().fold(0, |acc, &c| mul(acc, alpha(j)) ^ c))
            .collect()
    };
    let s = syndrome(block);
    if s.iter().all(|&v| v == 0) {
        return Some(0);
    }
    // Berlekamp-Massey: the error locator Λ(x) = Π (1 - X_l x), lowest degree first.
    let mut locator = vec![1u8];
    let mut previous = vec![1u8];
    let mut length = 0usize;
    let mut shift = 1usize;
    let mut last_discrepancy = 1u8;
    for step in 0..parity {
        let mut d = s[step];
        for i in 1..=length.min(locator.len() - 1) {
            d ^= mul(locator[i], s[step - i]);
        }
        if d == 0 {
            shift += 1;
            continue;
        }
        let factor = div(d, last_discrepancy);
        let mut next = locator.clone();
        if next.len() < previous.len() + shift {
            next.resize(previous.len() + shift, 0);
        }
        for (i, &p) in previous.iter().enumerate() {
            next[i + shift] ^= mul(factor, p);
        }
        if 2 * length <= step {
            previous = locator;
            length = step + 1 - length;
            last_discrepancy = d;
            shift = 1;
        } else {
            shift += 1;
        }
        locator = next;
    }
    while locator.len() > 1 && locator.last() == Some(&0) {
        locator.pop();
    }
    let errors = locator.len() - 1;
    if errors == 0 || errors != length || errors > max_errors || 2 * errors > parity {
        return None;
    }
    // Ω(x) = S(x) Λ(x) mod x^parity.
    let mut omega = vec![0u8; parity];
    for (i, &si) in s.iter().enumerate() {
        for (j, &lj) in locator.iter().enumerate() {
            if i + j < parity {
                omega[i + j] ^= mul(si, lj);
            }
        }
    }
    // Λ'(x): in characteristic 2 only odd terms survive.
    let derivative: Vec<u8> = (1..locator.len())
        .map(|i| if i % 2 == 1 { locator[i] } else { 0 })
        .collect();
    // Chien search over codeword positions: degree p is block index n - 1 - p.
    let mut fixed = 0;
    for p in 0..n {
        let x_inv = alpha(255 - p % 255);
        if eval(&locator, x_inv) != 0 {
            continue;
        }
        let denominator = eval(&derivative, x_inv);
        if denominator == 0 {
            return None;
        }
        // Forney with first root α^0: e = X Ω(X^-1) / Λ'(X^-1).
        let magnitude = mul(alpha(p), div(eval(&omega, x_inv), denominator));
        block[n - 1 - p] ^= magnitude;
        fixed += 1;
    }
    if fixed != errors || syndrome(block).iter().any(|&v| v != 0) {
        return None;
    }
    Some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `parity` check codewords to `data` (polynomial division by the generator).
    fn encode(data: &[u8], parity: usize) -> Vec<u8> {
        let mut generator = vec![1u8];
        for j in 0..parity {
            let mut next = vec![0u8; generator.len() + 1];
            for (i, &g) in generator.iter().enumerate() {
                next[i] ^= g;
                next[i + 1] ^= mul(g, alpha(j));
            }
            generator = next;
        }
        let mut remainder = data.to_vec();
        remainder.resize(data.len() + parity, 0);
        for i in 0..data.len() {
            let factor = remainder[i];
            if factor != 0 {
                for (j, &g) in generator.iter().enumerate() {
                    remainder[i + j] ^= mul(g, factor);
                }
            }
        }
        let mut block = data.to_vec();
        block.extend_from_slice(&remainder[data.len()..]);
        block
    }

    #[test]
    fn corrects_up_to_half_the_parity_codewords_and_refuses_more() {
        let data: Vec<u8> = (0..40u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let clean = encode(&data, 10);
        assert_eq!(correct(&mut clean.clone(), 10, 5), Some(0));
        for errors in 1..=5 {
            let mut block = clean.clone();
            for e in 0..errors {
                block[e * 9 + 1] ^= 0x5A ^ e as u8;
            }
            assert_eq!(correct(&mut block, 10, 5), Some(errors), "{errors} errors");
            assert_eq!(block, clean);
        }
        let mut block = clean.clone();
        for e in 0..5 {
            block[e * 9] ^= 0xFF;
        }
        assert_eq!(
            correct(&mut block, 10, 4),
            None,
            "limit below the error count"
        );
    }
}
