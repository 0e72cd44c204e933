#!/usr/bin/env bash
# `make run`: the whole system on a local development default. Starts the
# database (see with-db.sh), creates the schema and its least-privilege
# users, and serves the API on http://127.0.0.1:8080 until Ctrl-C.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

cargo build --locked --bin rampart
# shellcheck source=scripts/with-db.sh
source scripts/with-db.sh
trap stop_private_db EXIT
echo "rampart: $DB_DESCRIPTION"

export RAMPART_ENV=${RAMPART_ENV:-development}
export RAMPART_LOG_FORMAT=${RAMPART_LOG_FORMAT:-pretty}
# The server stops on Ctrl-C (SIGINT reaches the whole foreground group);
# the trap above then stops a database this script started.
RAMPART_ADMIN_DATABASE_URL=$ADMIN_URL target/debug/rampart dev || status=$?
exit "${status:-0}"
