//! The wire types of the Rampart API.
//!
//! Requests parse straight into validated values: a `RegisterRequest` that
//! deserialized is a registration whose e-mail, password and name are within
//! their limits. The server and the future mobile client core share these
//! types, so both sides agree on every limit.

pub mod requests;
pub mod responses;
pub mod values;

pub use requests::*;
pub use responses::*;
pub use values::*;
