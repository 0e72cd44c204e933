#!/usr/bin/env bash
# Sourced by run.sh and test.sh: applies the database rule of the README.
# Sets ADMIN_URL (an administrator's URL) and DB_DESCRIPTION, and, when it
# started the private instance itself, stops it again on exit.
#
# - DATABASE_URL set: that server is used as it is.
# - otherwise: the private instance under .rampart/mariadb is started (or
#   reused if it already runs, e.g. under `make run` in another terminal).

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
started_db=0

stop_private_db() {
    if [[ $started_db == 1 ]]; then
        "$root/scripts/db.sh" stop >&2 || true
    fi
}

if [[ -n ${DATABASE_URL:-} ]]; then
    ADMIN_URL=$DATABASE_URL
    # Print where, never who or with which password.
    DB_DESCRIPTION="database: DATABASE_URL at $(sed -E 's#^[a-z]+://([^@]*@)?##; s#/.*##' <<<"$DATABASE_URL")"
else
    if ! "$root/scripts/db.sh" status >/dev/null 2>&1; then
        "$root/scripts/db.sh" start
        started_db=1
    fi
    ADMIN_URL=$("$root/scripts/db.sh" url)
    DB_DESCRIPTION=$("$root/scripts/db.sh" describe)
fi
export ADMIN_URL DB_DESCRIPTION
