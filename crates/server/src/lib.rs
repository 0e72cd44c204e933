//! The Rampart API server. `main.rs` only parses the command line; everything
//! else (configuration, the application, the commands) lives here so that
//! tests can build the real application.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod db;
pub mod http;
pub mod mail;
pub mod openapi;
pub mod orders;
pub mod state;
pub mod telemetry;
pub mod wellknown;
