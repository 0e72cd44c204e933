//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the
//! handlers' annotations and the protocol types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::accounts::{addresses, profile, sessions};
use crate::auth::{login, password_reset, register};
use crate::orders;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rampart API", version = "1", description = "Accounts, sign-in and customer data of Rampart. Every error is an RFC 9457 problem."),
    paths(
        register::register, register::verify_email,
        login::login, login::refresh, login::logout,
        password_reset::forgot, password_reset::reset, password_reset::change,
        profile::get, profile::update,
        addresses::list, addresses::create, addresses::get, addresses::replace, addresses::delete,
        orders::list, orders::create, orders::get, orders::cancel,
        sessions::list, sessions::revoke_one, sessions::revoke_others,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
