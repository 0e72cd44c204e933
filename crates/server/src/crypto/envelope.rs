//! The format of every encrypted column, and the per-customer data keys.
//!
//! A stored ciphertext is `0x01 || key reference || nonce || sealed || tag`.
//! The key reference says which key opens it: a customer's data key (by its
//! id) or a key of the key ring (by its kid), so keys can rotate while old
//! rows stay readable. The associated data binds the table, column and row,
//! so a ciphertext copied into another row or column does not open.

use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CryptoError, SymmetricKey};

const VERSION: u8 = 1;
const KIND_DATA_KEY: u8 = 1;
const KIND_RING_KEY: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A customer's data key, by its id.
    Data(Uuid),
    /// A key of the key ring, by its kid.
    Ring(String),
}

/// Where a value is stored: the associated data of its ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a [u8],
}

impl<'a> Field<'a> {
    pub fn new(table: &'static str, column: &'static str, row: &'a [u8]) -> Self {
        Self { table, column, row }
    }
}

fn associated_data(field: Field<'_>, key_ref: &KeyRef) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"rampart/v1\0");
    aad.extend_from_slice(field.table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.column.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.row);
    aad.push(0);
    write_key_ref(&mut aad, key_ref);
    aad
}

fn write_key_ref(out: &mut Vec<u8>, key_ref: &KeyRef) {
    match key_ref {
        KeyRef::Data(id) => {
            out.push(KIND_DATA_KEY);
            out.extend_from_slice(id.as_bytes());
        }
        KeyRef::Ring(kid) => {
            out.push(KIND_RING_KEY);
            // Kids are short ASCII names made by Rampart (see keyring.rs).
            out.push(u8::try_from(kid.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(kid.as_bytes());
        }
    }
}

/// Reads the key reference of a stored ciphertext.
pub fn key_ref(stored: &[u8]) -> Result<(KeyRef, &[u8]), CryptoError> {
    let (&version, rest) = stored.split_first().ok_or(CryptoError::Malformed)?;
    if version != VERSION {
        return Err(CryptoError::Malformed);
    }
    let (&kind, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
    match kind {
        KIND_DATA_KEY => {
            let (id, sealed) = rest.split_at_checked(16).ok_or(CryptoError::Malformed)?;
            let id = Uuid::from_slice(id).map_err(|_| CryptoError::Malformed)?;
            Ok((KeyRef::Data(id), sealed))
        }
        KIND_RING_KEY => {
            let (&len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
            let (kid, sealed) = rest
                .split_at_checked(usize::from(len))
                .ok_or(CryptoError::Malformed)?;
            let kid = std::str::from_utf8(kid).map_err(|_| CryptoError::Malformed)?;
            Ok((KeyRef::Ring(kid.to_owned()), sealed))
        }
        _ => Err(CryptoError::Malformed),
    }
}

/// Encrypts `plaintext` for `field` under `key`, named by `key_ref`.
pub fn seal(
    key: &SymmetricKey,
    key_ref: &KeyRef,
    field: Field<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let sealed = key.seal(&associated_data(field, key_ref), plaintext)?;
    let mut out = Vec::with_capacity(2 + 17 + sealed.len());
    out.push(VERSION);
    write_key_ref(&mut out, key_ref);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts a stored value whose key reference must be `key_ref`.
pub fn open(
    key: &SymmetricKey,
    key_ref: &KeyRef,
    field: Field<'_>,
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (found, sealed) = self::key_ref(stored)?;
    if &found != key_ref {
        return Err(CryptoError::Open);
    }
    key.open(&associated_data(field, key_ref), sealed)
}

/// A customer's data key: every personal field of the customer is sealed
/// under it. It is stored wrapped by a key-ring key; deleting it erases the
/// customer's data and the client addresses of their audit records.
#[derive(Clone, Debug)]
pub struct DataKey {
    pub id: Uuid,
    key: SymmetricKey,
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            id: Uuid::new_v4(),
            key: SymmetricKey::generate()?,
        })
    }

    pub fn from_parts(id: Uuid, key: SymmetricKey) -> Self {
        Self { id, key }
    }

    pub fn key(&self) -> &SymmetricKey {
        &self.key
    }

    fn key_ref(&self) -> KeyRef {
        KeyRef::Data(self.id)
    }

    pub fn seal(&self, field: Field<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.key, &self.key_ref(), field, plaintext)
    }

    pub fn seal_str(&self, field: Field<'_>, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(field, plaintext.as_bytes())
    }

    pub fn open(&self, field: Field<'_>, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open(&self.key, &self.key_ref(), field, stored)
    }

    pub fn open_string(&self, field: Field<'_>, stored: &[u8]) -> Result<String, CryptoError> {
        let bytes = self.open(field, stored)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_moved_to_another_row_does_not_open() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let row_a = Uuid::new_v4();
        let row_b = Uuid::new_v4();
        let stored = key.seal_str(
            Field::new("accounts", "phone", row_a.as_bytes()),
            "+41446681800",
        )?;
        let opened = key.open_string(Field::new("accounts", "phone", row_a.as_bytes()), &stored)?;
        assert_eq!(opened, "+41446681800");
        assert!(
            key.open(Field::new("accounts", "phone", row_b.as_bytes()), &stored)
                .is_err()
        );
        assert!(
            key.open(
                Field::new("accounts", "full_name", row_a.as_bytes()),
                &stored
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn the_key_reference_travels_with_the_ciphertext() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let stored = key.seal_str(Field::new("t", "c", b"r"), "x")?;
        assert_eq!(key_ref(&stored)?.0, KeyRef::Data(key.id));
        let ring = SymmetricKey::generate()?;
        let kref = KeyRef::Ring("audit-1".into());
        let stored = seal(&ring, &kref, Field::new("t", "c", b"r"), b"x")?;
        assert_eq!(key_ref(&stored)?.0, kref);
        Ok(())
    }
}
