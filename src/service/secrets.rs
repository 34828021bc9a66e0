//! Passwords, tokens and content hashes.
//!
//! Tokens are 32 random bytes shown to the client once and stored only as their sha256: a copy of
//! the database does not let anyone sign in. Passwords are argon2id hashes (PHC strings).

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ServiceError;

pub const ACCESS_PREFIX: &str = "hga_";
pub const REFRESH_PREFIX: &str = "hgr_";
/// Longer inputs are not our tokens; refuse before hashing them.
pub const MAX_TOKEN_LEN: usize = 128;
/// argon2 cost grows with input; passwords longer than this are refused.
pub const MAX_PASSWORD_LEN: usize = 1024;
pub const MIN_PASSWORD_LEN: usize = 8;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two secrets (or their hashes) in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A fresh random token with a prefix saying what it is for.
pub fn new_token(prefix: &str) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// Random bytes for a rotation nonce.
pub fn new_nonce() -> Result<[u8; 32], ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// The (access, refresh) pair a refresh with `previous_refresh` is answered with. Derived rather
/// than random so the service can answer a repeated refresh with the same pair while storing
/// only hashes: it needs the previous token, which only the device has, and the nonce, which
/// only the database has — neither alone gives the new pair.
pub fn rotated_tokens(previous_refresh: &str, nonce: &[u8]) -> (String, String) {
    let derive = |purpose: &[u8]| {
        let mut hasher = Sha256::new();
        hasher.update(b"hologuide refresh rotation v1\0");
        hasher.update(purpose);
        hasher.update(nonce);
        hasher.update(previous_refresh.as_bytes());
        hex::encode(hasher.finalize())
    };
    (
        format!("{ACCESS_PREFIX}{}", derive(b"access\0")),
        format!("{REFRESH_PREFIX}{}", derive(b"refresh\0")),
    )
}

pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    check_password_shape(password)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| ServiceError::Internal(format!("no randomness: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))
}

/// argon2's working memory, kept by a password worker between checks (see
/// [`super::passwords`]): allocated at the first check, grown only for a stored hash with a
/// larger memory cost, never freed while the worker lives.
#[derive(Default)]
pub struct ArgonMemory(Vec<Block>);

/// A stored hash asking for more memory than this is treated as damaged (never matches): 1 GiB.
const MAX_STORED_MEMORY_BLOCKS: usize = 1024 * 1024;

/// `true` when `password` matches the stored PHC string, computed in `memory`. A damaged stored
/// hash never matches.
pub fn verify_password_in(memory: &mut ArgonMemory, password: &str, stored: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_STORED_MEMORY_BLOCKS {
        return false;
    }
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::new());
    }
    let mut computed = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut memory.0[..])
        .is_ok()
        && constant_time_eq(&computed, expected.as_bytes())
}

pub fn check_password_shape(password: &str) -> Result<(), ServiceError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(ServiceError::Invalid(format!(
            "the password is {length} characters long; at least {MIN_PASSWORD_LEN} are needed"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ServiceError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        let mut memory = ArgonMemory::default();
        assert!(verify_password_in(&mut memory, "correct horse", &hash));
        assert!(!verify_password_in(&mut memory, "correct horsf", &hash));
        assert!(!verify_password_in(
            &mut memory,
            "correct horse",
            "not a phc string"
        ));
        // Memory reused for the next check gives the same answers.
        assert!(verify_password_in(&mut memory, "correct horse", &hash));
    }

    #[test]
    fn short_passwords_are_refused_with_the_length_needed() {
        let error = hash_password("short").unwrap_err().to_string();
        assert!(error.contains("at least 8"), "{error}");
    }

    #[test]
    fn tokens_are_unique_prefixed_and_hash_to_32_bytes() {
        let a = new_token(ACCESS_PREFIX).unwrap();
        let b = new_token(ACCESS_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(ACCESS_PREFIX));
        assert_eq!(token_hash(&a).len(), 32);
        assert!(constant_time_eq(&token_hash(&a), &token_hash(&a)));
        assert!(!constant_time_eq(&token_hash(&a), &token_hash(&b)));
    }
}
