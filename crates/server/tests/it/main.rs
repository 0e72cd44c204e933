//! Integration tests: the real application on a random port, against a real
//! MariaDB/MySQL, with a fresh database (and users) per test, dropped when
//! the test ends. `make test` starts the database and sets
//! RAMPART_TEST_ADMIN_URL (or uses DATABASE_URL when that is set).

mod audit_trail;
mod cli;
mod database;
mod enumeration;
mod flow;
mod input;
mod logs;
mod orders;
mod passwords;
mod personal_data;
mod sessions;
mod support;
mod tokens;
