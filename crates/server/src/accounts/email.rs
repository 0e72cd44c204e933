//! How e-mail addresses compare. Two spellings that a person would read as
//! the same address must find the same account: the comparison form is
//! NFKC, then Unicode case folding, then NFKC again (the closure that
//! Unicode's NFKC_Casefold describes), with surrounding space trimmed.
//! Accounts are found by a keyed blind index of that form, so the database
//! never holds an address in clear.

use rampart_protocol::Email;
use unicode_normalization::UnicodeNormalization;

use crate::crypto::keyring::KeyRing;

pub fn comparison_form(email: &Email) -> String {
    let first: String = email.as_str().trim().nfkc().collect();
    let folded = caseless::default_case_fold_str(&first);
    folded.nfkc().collect()
}

pub fn blind_index(ring: &KeyRing, email: &Email) -> [u8; 32] {
    ring.blind_index(comparison_form(email).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> String {
        Email::parse(s)
            .map(|e| comparison_form(&e))
            .unwrap_or_default()
    }

    #[test]
    fn look_alike_spellings_compare_equal() {
        let plain = form("alice@example.com");
        assert_eq!(form("ALICE@Example.COM"), plain);
        // Fullwidth letters (U+FF41...) fold to ASCII under NFKC.
        assert_eq!(form("\u{ff41}lice@example.com"), plain);
        // German sharp s folds to "ss".
        assert_eq!(form("STRASSE@example.com"), form("straße@example.com"));
    }
}
