//! Password strength: no composition rules (NIST SP 800-63B), but a refusal
//! of common passwords and of those zxcvbn scores below 3, with the user's
//! own e-mail and name as context so "alice.smith2024" is weak for Alice.

use rampart_protocol::Password;
use zxcvbn::Score;

static COMMON: &str = include_str!("common-passwords.txt");

fn canonical(password: &str) -> String {
    password
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_common(password: &str) -> bool {
    let candidate = canonical(password);
    COMMON
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .any(|line| line == candidate)
}

/// Why a password was refused, in words a user can act on.
pub fn check(password: &Password, context: &[&str]) -> Result<(), &'static str> {
    let password = password.expose();
    if is_common(password) {
        return Err("is one of the most common passwords; choose another");
    }
    let mut inputs: Vec<&str> = Vec::new();
    for item in context {
        inputs.push(item);
        inputs.extend(
            item.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3),
        );
    }
    if zxcvbn::zxcvbn(password, &inputs).score() < Score::Three {
        return Err("is too easy to guess; a few unrelated words make a strong password");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s).unwrap_or_else(|_| panic!("{s} should parse"))
    }

    #[test]
    fn common_passwords_are_refused() {
        assert!(check(&pw("Password1234"), &[]).is_err());
        assert!(check(&pw("qwerty 123456"), &[]).is_err());
    }

    #[test]
    fn guessable_passwords_are_refused_using_the_users_own_details() {
        assert!(
            check(
                &pw("Alice Example!"),
                &["alice@example.com", "Alice Example"]
            )
            .is_err()
        );
        assert!(check(&pw("aaaaaaaaaaaaaaaaaa"), &[]).is_err());
    }

    #[test]
    fn unrelated_words_pass() {
        assert!(check(&pw("lantern orbit cobalt ferry"), &["alice@example.com"]).is_ok());
    }
}
