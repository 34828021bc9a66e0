//! How blobs, assets and photos are named everywhere (guide packages, the cache, the network,
//! the service): the SHA-256 of their bytes as 64 lower-case hex digits. One rule, so that
//! what one layer accepts another never refuses.

/// `true` for a SHA-256 as hologuide spells it: 64 lower-case hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lower_case_hex_digits_name_a_blob() {
        assert!(is_sha256_hex(&"0a".repeat(32)));
        assert!(!is_sha256_hex(&"0A".repeat(32)), "upper case");
        assert!(!is_sha256_hex(&"0a".repeat(31)), "too short");
        assert!(!is_sha256_hex(&format!("{}g", "0".repeat(63))), "not hex");
        assert!(!is_sha256_hex(&format!("../{}", "0".repeat(61))), "a path");
    }
}
