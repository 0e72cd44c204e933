#!/usr/bin/env bash
# `make test`: formatting, lints and every test of the workspace, against a
# real database (see with-db.sh). Each test creates and drops its own
# database and users.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
echo "== format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# shellcheck source=scripts/with-db.sh
source scripts/with-db.sh
trap stop_private_db EXIT
echo "$DB_DESCRIPTION"
export RAMPART_TEST_ADMIN_URL=$ADMIN_URL

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    # Each test is its own process; a few at a time keep 2 cores busy
    # without starving the Argon2 workers of the running tests.
    cargo nextest run --workspace --locked --test-threads 4 --no-fail-fast
else
    cargo test --workspace --locked -- --test-threads 4
fi
