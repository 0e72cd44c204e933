#!/usr/bin/env bash
# Manage a private MariaDB instance for Rampart development and tests.
#
# All state lives under .rampart/mariadb/ in this checkout (git-ignored), so
# the instance never touches a system-wide server and can be thrown away with
# `scripts/db.sh stop && rm -rf .rampart/mariadb`.
#
# Usage: scripts/db.sh start|stop|status|url|describe
#   start     start the instance (initialising it on first use); idempotent
#   stop      stop it cleanly; succeeds if it is not running
#   status    say whether it runs, on which port and socket; exit 3 if not
#   url       print mysql://rampart_admin:<password>@127.0.0.1:<port>
#   describe  print one line for humans (server version, port, socket)
#
# Environment:
#   RAMPART_DB_PORT        TCP port on 127.0.0.1 (default 3307)
#   RAMPART_DB_SERVER_BIN  server binary to use instead of searching for one
#
# To get a new admin password, delete .rampart/mariadb/admin-password and run
# `scripts/db.sh start` again.
set -euo pipefail

# Everything this script creates (password, data, log) is for this user only.
umask 077

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
state="$root/.rampart/mariadb"
datadir="$state/data"
pid_file="$state/mysqld.pid"
log_file="$state/server.log"
password_file="$state/admin-password"
# Where the running instance listens; written at start so that status, url and
# describe report what is running, not what the environment says now.
socket_record="$state/socket-path"
port_record="$state/port"

default_port=3307
start_timeout=30
stop_timeout=30
admin_user=rampart_admin
no_server_hint="install one: apt-get install mariadb-server (Debian/Ubuntu) or set DATABASE_URL to an existing server"

say() { printf 'rampart: %s\n' "$*" >&2; }
die() {
    say "$@"
    exit 1
}

# Debian installs the server in /usr/sbin, which is often missing from a
# normal user's PATH, so search the usual server folders as well.
IFS=: read -r -a search_dirs <<<"${PATH:-}:/usr/sbin:/usr/local/sbin:/sbin:/usr/local/mysql/bin:/opt/homebrew/sbin"

# find_tool NAME...: print the path of the first NAME found in search_dirs.
find_tool() {
    local name dir
    for name in "$@"; do
        for dir in "${search_dirs[@]}"; do
            if [[ -n $dir && -f $dir/$name && -x $dir/$name ]]; then
                printf '%s\n' "$dir/$name"
                return 0
            fi
        done
    done
    return 1
}

find_clients() {
    client_bin=$(find_tool mariadb mysql) ||
        die "no MariaDB client (mariadb or mysql) found; install mariadb-client"
    admin_bin=$(find_tool mariadb-admin mysqladmin) ||
        die "no mariadb-admin or mysqladmin found; install mariadb-client"
}

find_server() {
    if [[ -n ${RAMPART_DB_SERVER_BIN:-} ]]; then
        [[ -f $RAMPART_DB_SERVER_BIN && -x $RAMPART_DB_SERVER_BIN ]] ||
            die "RAMPART_DB_SERVER_BIN=$RAMPART_DB_SERVER_BIN is not an executable; no MariaDB/MySQL server found; $no_server_hint"
        server_bin=$RAMPART_DB_SERVER_BIN
    else
        server_bin=$(find_tool mariadbd mysqld) ||
            die "no MariaDB/MySQL server found; $no_server_hint"
    fi
    # Prefer the install tool and clients that belong to this server build.
    local server_dir
    server_dir=$(dirname -- "$server_bin")
    search_dirs=("$server_dir" "$server_dir/../bin" "${search_dirs[@]}")

    # Real MySQL initialises its data folder differently (mysqld
    # --initialize-insecure, no unix_socket root); that path is not written or
    # tested, so refuse clearly instead of half-working.
    server_version=$("$server_bin" --no-defaults --version 2>/dev/null) || server_version=""
    [[ $server_version == *MariaDB* ]] ||
        die "$server_bin is not MariaDB (${server_version:-no version}); this script only manages MariaDB; $no_server_hint"
}

configured_port() {
    local port=${RAMPART_DB_PORT:-$default_port}
    if [[ ! $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
        die "RAMPART_DB_PORT=$port is not a TCP port number"
    fi
    printf '%s\n' "$((10#$port))"
}

# A unix socket path must fit in sun_path (108 bytes with the final NUL). A
# deep checkout would exceed that, so fall back to a private folder in /tmp
# named after a hash of the checkout path.
socket_path() {
    local LC_ALL=C # make ${#...} count bytes, not characters
    local preferred="$state/mysqld.sock" hash
    if ((${#preferred} <= 107)); then
        printf '%s\n' "$preferred"
        return
    fi
    hash=$(printf '%s' "$root" | sha256sum | cut -c1-16)
    printf '/tmp/rampart-db-%s/mysqld.sock\n' "$hash"
}

prepare_socket_dir() {
    local dir
    dir=$(dirname -- "$1")
    [[ $dir == "$state" ]] && return 0
    [[ -d $dir ]] || mkdir -m 700 -- "$dir"
    # Someone else could have created the folder first to catch our socket.
    [[ -O $dir && ! -L $dir ]] || die "$dir is not a folder owned by $(id -un); remove it and retry"
    chmod 700 -- "$dir"
}

# The socket and port of the running instance, falling back to what a start
# would use now.
current_socket() {
    if [[ -s $socket_record ]]; then cat -- "$socket_record"; else socket_path; fi
}
current_port() {
    if server_pid >/dev/null && [[ -s $port_record ]]; then cat -- "$port_record"; else configured_port; fi
}

# Print the pid of our server: the pid file must name a live process that was
# started with our data folder (a stale pid file can name a recycled pid).
server_pid() {
    local pid args
    [[ -r $pid_file ]] || return 1
    read -r pid <"$pid_file" || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/cmdline ]]; then
        args=$(tr '\0' ' ' <"/proc/$pid/cmdline") || return 1
    else
        args=$(ps -o args= -p "$pid") || return 1
    fi
    [[ $args == *"--datadir=$datadir "* ]] || return 1
    printf '%s\n' "$pid"
}

# `ping` exits 0 whenever the server answers, even with "access denied", so
# it needs no account.
answers() {
    "$admin_bin" --no-defaults --socket="$1" --connect-timeout=2 ping >/dev/null 2>&1
}

port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -ltn "sport = :$1" | tail -n +2) ]]
    else
        # A bare connect (no data sent) tells whether something listens.
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# Run SQL from stdin as the OS user over the unix socket: a fresh data folder
# lets that user in through unix_socket authentication, no password needed.
# Reading stdin keeps passwords out of the process list.
sql_as_os_user() {
    "$client_bin" --no-defaults --socket="$1" --user="$(id -un)" --batch --skip-column-names --raw
}

# Serialise start and stop, so parallel test runs do not race to initialise.
take_lock() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$state/lock"
    flock 9
}

init_datadir() {
    local install_db
    install_db=$(find_tool mariadb-install-db mysql_install_db) ||
        die "found $server_bin but no mariadb-install-db next to it; reinstall mariadb-server"
    local args=(--no-defaults --datadir="$datadir" --skip-test-db
        --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)")
    ((EUID == 0)) && args+=(--user=root)

    say "initialising a new data folder in $datadir"
    # A password from an earlier data folder would not match the new one.
    rm -f -- "$password_file"
    mkdir -p -- "$datadir"
    if ! "$install_db" "${args[@]}" >"$state/install.log" 2>&1 9>&-; then
        tail -n 20 -- "$state/install.log" >&2
        # The folder was empty before; a half-initialised one would break the next start.
        rm -rf -- "$datadir"
        die "$install_db failed; full output in $state/install.log"
    fi
}

# Create the admin account the application and tests use, and remove what a
# fresh install leaves open (anonymous logins, the shared `test` schema).
setup_accounts() {
    local socket=$1 raw password drops
    # Capture first, then cut: `tr ... | head -c` would die of SIGPIPE under pipefail.
    raw=$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
    password=${raw:0:32}
    ((${#password} == 32)) || die "could not read enough random bytes from /dev/urandom"

    drops=$(sql_as_os_user "$socket" <<<"SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = '';") ||
        die "could not connect as $(id -un) over $socket to set up accounts"

    printf '%s\n' "$password" >"$password_file.new"
    if ! sql_as_os_user "$socket" <<SQL; then
$drops
DROP DATABASE IF EXISTS test;
DELETE FROM mysql.db WHERE Db = 'test' OR Db = 'test\\_%';
FLUSH PRIVILEGES;
DROP USER IF EXISTS '$admin_user'@'localhost', '$admin_user'@'127.0.0.1';
CREATE USER '$admin_user'@'localhost' IDENTIFIED BY '$password';
CREATE USER '$admin_user'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$admin_user'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$admin_user'@'127.0.0.1' WITH GRANT OPTION;
SQL
        rm -f -- "$password_file.new"
        die "could not create the $admin_user account; see $log_file"
    fi
    mv -f -- "$password_file.new" "$password_file"
    say "created $admin_user; password in $password_file"
}

# wait_ready SOCKET WATCH_PID: wait until the server answers on SOCKET.
# Returns 1 if WATCH_PID exits first, 2 on timeout.
wait_ready() {
    local deadline=$((SECONDS + start_timeout))
    while ((SECONDS < deadline)); do
        answers "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    answers "$1" && return 0
    return 2
}

cmd_start() {
    mkdir -p -- "$state"
    take_lock
    find_clients

    local pid socket port
    if pid=$(server_pid); then
        socket=$(current_socket)
        # Alive but silent: another start may have left it recovering.
        wait_ready "$socket" "$pid" ||
            die "the private server (pid $pid) runs but does not answer on $socket; see $log_file"
        port=$(current_port)
        if [[ -n ${RAMPART_DB_PORT:-} && $RAMPART_DB_PORT != "$port" ]]; then
            say "already running on port $port, not RAMPART_DB_PORT=$RAMPART_DB_PORT; run scripts/db.sh stop first to move it"
        fi
        [[ -s $password_file ]] || setup_accounts "$socket"
        return 0
    fi

    find_server
    port=$(configured_port)
    socket=$(socket_path)
    if port_in_use "$port"; then
        die "port $port on 127.0.0.1 is already in use by another program; set RAMPART_DB_PORT to a free port"
    fi
    prepare_socket_dir "$socket"

    if [[ ! -d $datadir || -z $(ls -A -- "$datadir") ]]; then
        init_datadir
    fi

    local args=(--no-defaults --datadir="$datadir" --socket="$socket"
        --pid-file="$pid_file" --log-error="$log_file"
        --port="$port" --bind-address=127.0.0.1
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
        --innodb-buffer-pool-size=256M)
    # mariadbd refuses to run as OS root unless told to; the data folder is root's own.
    ((EUID == 0)) && args+=(--user=root)

    printf '%s\n' "$socket" >"$socket_record"
    printf '%s\n' "$port" >"$port_record"
    # Only this start's part of the log matters if it fails.
    local log_offset=0
    [[ -f $log_file ]] && log_offset=$(wc -c <"$log_file")

    # setsid puts the server in its own session, so a Ctrl-C or a test runner
    # killing our process group later does not take it down; --wait keeps
    # $! alive as long as the server, even if setsid had to fork. fd 9 (the
    # lock) is closed so the server does not hold it forever.
    local launcher=()
    command -v setsid >/dev/null 2>&1 && launcher=(setsid --wait)
    "${launcher[@]}" "$server_bin" "${args[@]}" </dev/null >>"$log_file" 2>&1 9>&- &
    local watch=$! started=$SECONDS status=0

    wait_ready "$socket" "$watch" || status=$?
    if ((status != 0)); then
        local fresh
        fresh=$(tail -c +"$((log_offset + 1))" -- "$log_file")
        printf '%s\n' "$fresh" | tail -n 20 >&2
        if ((status == 1)) && [[ $fresh == *"Address already in use"* ]]; then
            die "port $port on 127.0.0.1 is already in use; set RAMPART_DB_PORT to a free port"
        elif ((status == 1)); then
            die "the server exited during start-up; see $log_file"
        fi
        local pid
        pid=$(server_pid) || pid=$watch
        kill -TERM "$pid" 2>/dev/null || true
        die "the server did not answer within ${start_timeout} s, so it was stopped; see $log_file"
    fi
    say "private MariaDB ready on 127.0.0.1:$port after $((SECONDS - started)) s"

    [[ -s $password_file ]] || setup_accounts "$socket"
}

cmd_stop() {
    [[ -d $state ]] || return 0
    take_lock
    local pid
    if ! pid=$(server_pid); then
        say "private database is not running"
        return 0
    fi
    kill -TERM "$pid"
    local deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) ||
            die "the server (pid $pid) did not stop within ${stop_timeout} s; see $log_file"
        sleep 0.2
    done
    say "stopped private database (pid $pid)"
}

cmd_status() {
    find_clients
    local pid socket port
    socket=$(current_socket)
    port=$(current_port)
    if pid=$(server_pid) && answers "$socket"; then
        printf 'database: running (pid %s), port %s, socket %s\n' "$pid" "$port" "$socket"
        return 0
    elif [[ -n ${pid:-} ]]; then
        printf 'database: not answering (pid %s is alive), port %s, socket %s\n' "$pid" "$port" "$socket"
    else
        printf 'database: not running (port %s, socket %s)\n' "$port" "$socket"
    fi
    return 3
}

cmd_url() {
    [[ -s $password_file ]] ||
        die "the private database is not initialised; run scripts/db.sh start"
    local password port
    read -r password <"$password_file"
    port=$(current_port)
    printf 'mysql://%s:%s@127.0.0.1:%s\n' "$admin_user" "$password" "$port"
}

cmd_describe() {
    find_clients
    local socket port version
    socket=$(current_socket)
    port=$(current_port)
    if ! server_pid >/dev/null || ! answers "$socket"; then
        printf 'database: private MariaDB not running (would use 127.0.0.1:%s, socket %s)\n' "$port" "$socket"
        return 3
    fi
    version=$(sql_as_os_user "$socket" <<<"SELECT VERSION();") || version="unknown version"
    # VERSION() reads like 10.11.19-MariaDB-0+deb12u1; keep the number.
    printf 'database: MariaDB %s on 127.0.0.1:%s, socket %s\n' "${version%%-*}" "$port" "$socket"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) cmd_url ;;
describe) cmd_describe ;;
*)
    printf 'usage: %s start|stop|status|url|describe\n' "$0" >&2
    exit 2
    ;;
esac
