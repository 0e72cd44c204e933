//! HTTP plumbing shared by every route: the problem-details error type,
//! extractors that turn requests into typed values, and middleware.

pub mod client_addr;
pub mod error;
pub mod extract;
pub mod middleware;

pub use error::{ApiError, ApiResult};
