//! Validated values. Each type can only be built through its parser, so a
//! value that exists satisfies its limits.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Why a value was refused. The messages are fixed texts that never contain
/// the input, so the server may show them to a client as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub &'static str);

/// Every message an [`Invalid`] can carry; the server shows only these.
pub const INVALID_MESSAGES: &[&str] = &[
    EMAIL_INVALID,
    PASSWORD_LENGTH,
    NAME_INVALID,
    PHONE_INVALID,
    TOKEN_INVALID,
    TEXT_INVALID,
    COUNTRY_INVALID,
    POSTAL_CODE_INVALID,
];

const EMAIL_INVALID: &str = "must be an e-mail address of at most 254 bytes";
const PASSWORD_LENGTH: &str = "must be 12 to 256 characters long";
const NAME_INVALID: &str = "must be 1 to 100 characters without control characters";
const PHONE_INVALID: &str = "must be a phone number in E.164 form, such as +41446681800";
const TOKEN_INVALID: &str = "must be a token as sent by Rampart";
const TEXT_INVALID: &str = "is empty, too long or contains control characters";
const COUNTRY_INVALID: &str = "must be an ISO 3166-1 alpha-2 country code, such as CH";
const POSTAL_CODE_INVALID: &str = "must be 1 to 16 letters, digits, spaces or dashes";

/// Control characters, and the invisible format characters that make text
/// look other than it is: zero-width characters, bidirectional overrides
/// and isolates, the byte-order mark, the soft hyphen.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control()
            || matches!(c,
                '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}')
    })
}

/// Trims, normalizes to NFC and checks length (in characters) and control
/// characters: the common rule for short free-text fields.
fn text(raw: &str, min: usize, max: usize, why: &'static str) -> Result<String, Invalid> {
    let value: String = raw.trim().nfc().collect();
    let len = value.chars().count();
    if len < min || len > max || has_control(&value) {
        return Err(Invalid(why));
    }
    Ok(value)
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        pub struct $name(String);

        impl $name {
            /// Parses and validates `raw`.
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                let parse: fn(&str) -> Result<String, Invalid> = $parse;
                parse(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

string_value!(
    /// An e-mail address as the user typed it (trimmed, NFC). The server
    /// derives the form used for comparison; this type only checks the shape.
    Email,
    |raw| {
        let value = text(raw, 3, 254, EMAIL_INVALID)?;
        let (local, domain) = value.rsplit_once('@').ok_or(Invalid(EMAIL_INVALID))?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        // 254 bytes, not characters: the SMTP limit, and what the column holds.
        if local.is_empty()
            || local.len() > 64
            || value.len() > 254
            || !domain_ok
            || value.contains(char::is_whitespace)
            // Domain literals ("user@[127.0.0.1]") and MIME encoded words
            // are valid in theory and trouble in practice: mailers refuse
            // or rewrite them.
            || domain.starts_with('[')
            || value.contains("=?")
        {
            return Err(Invalid(EMAIL_INVALID));
        }
        Ok(value)
    }
);

string_value!(
    /// A person's full name.
    FullName,
    |raw| text(raw, 1, 100, NAME_INVALID)
);

string_value!(
    /// A phone number in E.164 form: `+`, a country code and at most 15 digits.
    Phone,
    |raw| {
        let value = raw.trim();
        let digits = value.strip_prefix('+').ok_or(Invalid(PHONE_INVALID))?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok { Ok(value.to_owned()) } else { Err(Invalid(PHONE_INVALID)) }
    }
);

string_value!(
    /// A token Rampart handed out (e-mail link or refresh token): URL-safe
    /// base64 without padding, 16 to 128 characters.
    Token,
    |raw| {
        let ok = (16..=128).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(raw.to_owned()) } else { Err(Invalid(TOKEN_INVALID)) }
    }
);

string_value!(
    /// A short label for an address, such as "Home".
    Label,
    |raw| text(raw, 1, 40, TEXT_INVALID)
);

string_value!(
    /// One line of a postal address.
    AddressLine,
    |raw| text(raw, 1, 100, TEXT_INVALID)
);

string_value!(
    /// A city or town.
    City,
    |raw| text(raw, 1, 80, TEXT_INVALID)
);

string_value!(
    /// A postal code; formats differ by country, so only the alphabet and
    /// length are checked.
    PostalCode,
    |raw| {
        let value = raw.trim().to_uppercase();
        let ok = (1..=16).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
        if ok { Ok(value) } else { Err(Invalid(POSTAL_CODE_INVALID)) }
    }
);

string_value!(
    /// An ISO 3166-1 alpha-2 country code, upper case.
    Country,
    |raw| {
        let value = raw.trim().to_ascii_uppercase();
        if COUNTRIES.split(' ').any(|c| c == value) {
            Ok(value)
        } else {
            Err(Invalid(COUNTRY_INVALID))
        }
    }
);

string_value!(
    /// Free text for the courier, up to 500 characters; may be empty.
    DeliveryInstructions,
    |raw| text(raw, 0, 500, TEXT_INVALID)
);

/// A password, NFKC-normalized so that the same password typed on two
/// keyboards hashes the same. `Debug` never shows it.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Password))]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 256;

    /// A new password: 12 to 256 characters after normalization. Strength
    /// (common passwords, zxcvbn) is the server's check.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value: String = raw.nfkc().collect();
        let len = value.chars().count();
        if (Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            Ok(Self(value))
        } else {
            Err(Invalid(PASSWORD_LENGTH))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        // Overwrite the characters before the allocation is freed; the bytes
        // stay valid UTF-8 (all zero).
        let bytes = std::mem::take(&mut self.0).into_bytes();
        let mut bytes = bytes;
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// A password as typed at sign-in: not checked for the 12-character minimum
/// (a wrong password must look like any other wrong password), but still
/// capped so that nobody can make the server hash megabytes.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Password))]
pub struct LoginPassword(Password);

impl LoginPassword {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value: String = raw.nfkc().collect();
        if value.is_empty() || value.chars().count() > Password::MAX_CHARS {
            return Err(Invalid(PASSWORD_LENGTH));
        }
        Ok(Self(Password(value)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl TryFrom<String> for LoginPassword {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}

impl fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginPassword([redacted])")
    }
}

macro_rules! redacted_debug {
    ($($name:ident),*) => {$(
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    )*};
}

// Personal data and tokens never show in Debug output, so a stray `{:?}` in
// a log line cannot leak them.
redacted_debug!(
    Email,
    FullName,
    Phone,
    Token,
    Label,
    AddressLine,
    City,
    PostalCode,
    Country,
    DeliveryInstructions
);

/// The officially assigned ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ \
GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN \
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS \
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT \
PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF \
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_message_is_listed_for_the_server() {
        let samples = [
            Email::parse("nope").err(),
            Password::parse("short").err(),
            FullName::parse("").err(),
            Phone::parse("0791234567").err(),
            Token::parse("!").err(),
            Label::parse("").err(),
            Country::parse("XX").err(),
            PostalCode::parse("<script>").err(),
        ];
        for invalid in samples {
            let invalid = invalid.map(|i| i.0).unwrap_or("accepted");
            assert!(INVALID_MESSAGES.contains(&invalid), "{invalid}");
        }
    }

    #[test]
    fn password_length_counts_characters_after_normalization() {
        assert!(Password::parse("ééééééééééé").is_err()); // 11 characters
        assert!(Password::parse("éééééééééééé").is_ok()); // 12 characters
        assert!(Password::parse(&"a".repeat(257)).is_err());
        assert!(LoginPassword::parse(&"a".repeat(257)).is_err());
        assert!(LoginPassword::parse("short").is_ok());
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(Phone::parse("+41446681800").is_ok());
        assert!(Phone::parse("+0446681800").is_err());
        assert!(Phone::parse("41446681800").is_err());
        assert!(Phone::parse("+4144 668 18 00").is_err());
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(Country::parse("ch").map(String::from), Ok("CH".to_owned()));
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("C").is_err());
        assert!(Country::parse("CH DE").is_err());
    }

    #[test]
    fn debug_output_hides_personal_data_and_secrets() {
        let email = Email::parse("alice@example.com").map(|e| format!("{e:?}"));
        let password = Password::parse("correct horse battery").map(|p| format!("{p:?}"));
        assert_eq!(email.as_deref(), Ok("Email([redacted])"));
        assert_eq!(password.as_deref(), Ok("Password([redacted])"));
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        assert!(FullName::parse("\u{200B}").is_err());
        assert!(FullName::parse("Ada \u{202E}ecalevol").is_err());
        assert!(Email::parse("\u{202E}liam@example.com").is_err());
        assert!(Label::parse("Home\u{FEFF}").is_err());
        assert!(FullName::parse("Zoë Ångström").is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse(" Alice@Example.com ").is_ok());
        for bad in [
            "alice",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "alice@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
