//! Cryptography, all of it through aws-lc-rs: random bytes, AES-256-GCM,
//! HMAC-SHA-256 and SHA-256. Nothing here implements a primitive; this module
//! only fixes how Rampart uses them (nonces, associated data, envelopes).

pub mod envelope;
pub mod keyring;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hmac, rand};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("decryption failed: wrong key, wrong associated data or altered ciphertext")]
    Open,
    #[error("malformed ciphertext")]
    Malformed,
    #[error("the key {0} is not in the key ring")]
    UnknownKey(String),
    #[error("the system random number generator failed")]
    Random,
    #[error("invalid key material")]
    Key,
}

/// A 256-bit symmetric key, wiped from memory when dropped.
#[derive(Clone)]
pub struct SymmetricKey(Zeroizing<[u8; 32]>);

impl SymmetricKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(Zeroizing::new(random_array()?)))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Key)?;
        Ok(Self(Zeroizing::new(array)))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// AES-256-GCM with a fresh random 96-bit nonce per message; the output
    /// is `nonce || ciphertext || tag`. Random nonces are safe here because
    /// each key seals few messages (a customer's data key, a key-ring key).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, self.0.as_ref()).map_err(|_| CryptoError::Key)?;
        let mut in_out = plaintext.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + in_out.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, self.0.as_ref()).map_err(|_| CryptoError::Key)?;
        let mut in_out = Zeroizing::new(body.to_vec());
        let plain_len = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Open)?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }

    /// HMAC-SHA-256 under this key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_ref());
        let tag = hmac::sign(&key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricKey([redacted])")
    }
}

pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    rand::fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A token for a client: 256 random bits, URL-safe base64 (43 characters).
/// Only its SHA-256 is stored; a token has full entropy, so a plain hash is
/// enough to make a stolen table useless.
pub fn new_token() -> Result<(String, [u8; 32]), CryptoError> {
    use base64::Engine as _;
    let raw: [u8; 32] = random_array()?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = sha256(token.as_bytes());
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_associated_data() -> Result<(), CryptoError> {
        let key = SymmetricKey::generate()?;
        let sealed = key.seal(b"accounts/full_name/1", b"Ada Lovelace")?;
        assert_eq!(
            key.open(b"accounts/full_name/1", &sealed)?.as_slice(),
            b"Ada Lovelace"
        );
        assert!(key.open(b"accounts/full_name/2", &sealed).is_err());
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open(b"accounts/full_name/1", &altered).is_err());
        Ok(())
    }

    #[test]
    fn tokens_carry_256_random_bits() -> Result<(), CryptoError> {
        let (a, hash) = new_token()?;
        let (b, _) = new_token()?;
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), hash);
        Ok(())
    }
}
