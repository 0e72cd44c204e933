//! Access tokens: EdDSA-signed JWTs (`typ: at+jwt`) that live at most ten
//! minutes. Verification accepts exactly one algorithm and checks signature,
//! `kid`, `typ`, `iss`, `aud`, `exp` and `nbf`; the session behind `sid` is
//! checked against the database on every request by the caller.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::keyring::KeyRing;

pub const TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: Uuid,
    sid: Uuid,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: Uuid,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub account_id: Uuid,
    pub session_id: Uuid,
}

pub struct TokenService {
    issuer: String,
    audience: String,
    ttl: Duration,
    validation: Validation,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no signing key is active")]
    NoSigningKey,
    #[error(transparent)]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

impl TokenService {
    pub fn new(issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            validation,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        ring: &KeyRing,
        account_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let key = ring.current_signing(now).ok_or(TokenError::NoSigningKey)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some(TOKEN_TYPE.to_owned());
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: account_id,
            sid: session_id,
            iat,
            nbf: iat,
            exp: iat + i64::try_from(self.ttl.as_secs()).unwrap_or(600),
            jti: Uuid::new_v4(),
        };
        Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)?)
    }

    /// `None` for any token that is not one of ours, valid now.
    pub fn verify(&self, ring: &KeyRing, token: &str) -> Option<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        // RFC 9068 allows the media type's long form as well.
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if header.alg != Algorithm::EdDSA || !typ_ok {
            return None;
        }
        let kid = header.kid?;
        let key = ring
            .published_signing(Utc::now(), self.ttl)
            .find(|k| k.kid == kid)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).ok()?;
        // Only what `issue` makes: issued in the past, living no longer than
        // the configured lifetime. A token minted with a leaked key for ten
        // years still needs the session check, but fails here first.
        let claims = &data.claims;
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(600);
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        if claims.iat > Utc::now().timestamp() + leeway || claims.exp - claims.iat > ttl {
            return None;
        }
        Some(AccessClaims {
            account_id: data.claims.sub,
            session_id: data.claims.sid,
        })
    }
}
