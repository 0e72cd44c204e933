//! Request bodies. Every struct rejects unknown fields, so a stray
//! `"role": "admin"` is an error rather than something silently ignored.

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::values::*;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterRequest {
    pub email: Email,
    pub password: Password,
    pub full_name: FullName,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerifyEmailRequest {
    pub token: Token,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub email: Email,
    pub password: LoginPassword,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: Token,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ForgotPasswordRequest {
    pub email: Email,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResetPasswordRequest {
    pub token: Token,
    pub new_password: Password,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: LoginPassword,
    pub new_password: Password,
}

/// A partial profile update. A field left out stays as it is; `"phone": null`
/// removes the phone number. The e-mail address cannot be changed here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateProfileRequest {
    #[serde(default)]
    pub full_name: Option<FullName>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<Phone>>,
}

/// Tells a field that is present but `null` (`Some(None)`) from one that is
/// missing (`None`, through `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddressInput {
    pub label: Label,
    pub line1: AddressLine,
    #[serde(default)]
    pub line2: Option<AddressLine>,
    pub city: City,
    pub postal_code: PostalCode,
    pub country: Country,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateOrderRequest {
    pub address_id: Uuid,
    #[serde(default)]
    pub delivery_instructions: Option<DeliveryInstructions>,
}
