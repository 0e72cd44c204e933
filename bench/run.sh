#!/usr/bin/env bash
# `make bench`: measures a release Rampart against the bare axum + sqlx
# ceiling and the Argon2 ceiling on this machine, and prints one table.
#
# It builds release binaries, starts the database by the rule of `make run`
# (DATABASE_URL if set, else the private instance), runs `rampart dev` on
# its own database `rampart_bench` and port, seeds customers through the
# API, loads everything with wrk, and stops and drops all it started, also
# on failure or Ctrl-C. Everything listens and is reached on 127.0.0.1 only.
# bench/README.md explains every row and holds the figures of the last run.
#
# Settings (environment):
#   BENCH_PORT, BENCH_BARE_PORT   ports of rampart and of the bare ceiling
#                                 (default 18080, 18081)
#   BENCH_CUSTOMERS               customers to seed (default 256)
#   BENCH_READ_SECONDS            length of each read run (default 20, at least 20)
#   RAMPART_DATABASE_MAX_CONNECTIONS, RAMPART_HASH_WORKERS, ...
#                                 passed to the server as usual; the pool
#                                 size is given to the bare program too
#   RAMPART_ARGON2__M_COST_KIB / __T_COST / __P_COST
#                                 Argon2id costs of the server; the Argon2
#                                 ceiling is timed with the same ones
#   BENCH_RAMPART_BIN             measure this server binary instead of
#                                 building target/release/rampart (e.g. a
#                                 candidate change built in another worktree)
#   BENCH_BARE_PING=1             make the bare program ping each pooled
#                                 connection before use, as sqlx does by
#                                 default, to see what that round trip costs
#   BENCH_PROFILE=1               also sample the whole machine with `perf`
#                                 during each load (summaries in
#                                 .rampart/bench/logs/perf-*.txt); perf costs
#                                 CPU, so such a run finds hot spots but its
#                                 figures are not the reference ones
set -euo pipefail
umask 077

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

port=${BENCH_PORT:-18080}
bare_port=${BENCH_BARE_PORT:-18081}
customers=${BENCH_CUSTOMERS:-256}
read_seconds=${BENCH_READ_SECONDS:-20}
database=rampart_bench
read_connections=64
login_seconds=15
login_connections=16
flood_seconds=15
flood_readers=8
# Far more than the flood ever has in flight (about one second's worth of
# offered logins wait for a hashing slot), so the pacing never stalls.
flood_connections=512
warm_up_seconds=3
# Concurrent requests while seeding: the server's default number of hashing
# slots (4 per worker on 2 cores), so seeding is not answered 503.
seed_parallel=8

m_cost=${RAMPART_ARGON2__M_COST_KIB:-19456}
t_cost=${RAMPART_ARGON2__T_COST:-2}
p_cost=${RAMPART_ARGON2__P_COST:-1}
pool_size=${RAMPART_DATABASE_MAX_CONNECTIONS:-16}
cores=$(nproc)

work="$root/.rampart/bench"
rampart_bin=${BENCH_RAMPART_BIN:-$root/target/release/rampart}
bench_bin="$root/target/release/rampart-bench"
lua="$root/bench/lua"

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
    say "$@"
    exit 1
}

# calc EXPR: floating-point arithmetic (bash has integers only).
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
# at_least A B: exit status 0 if A >= B (floating point).
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }' </dev/null; }
yes_no() { if "$@"; then echo yes; else echo "**no**"; fi; }

for n in port bare_port customers read_seconds pool_size m_cost t_cost p_cost; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "$n=${!n} is not a number"
done
((read_seconds >= 20)) || die "BENCH_READ_SECONDS must be at least 20 (the issue's minimum)"
((customers >= 16)) || die "BENCH_CUSTOMERS must be at least 16"

# ---------------------------------------------------------------- tools
need_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
        say "installing wrk from Debian's packages"
        apt-get install -y wrk >/dev/null || die "apt-get install wrk failed"
    else
        die "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk)"
    fi
}
need_wrk
[[ ${BENCH_PROFILE:-0} != 1 ]] || command -v perf >/dev/null 2>&1 ||
    die "BENCH_PROFILE=1 needs perf (Debian: apt-get install linux-perf)"
for tool in curl awk ss; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
for p in "$port" "$bare_port"; do
    [[ -z $(ss -ltnH "sport = :$p") ]] || die "port $p is in use; set BENCH_PORT / BENCH_BARE_PORT"
done

say "building release binaries"
# One invocation: the bench crate only uses features the server also uses,
# so the server's build is shared and nothing is compiled twice.
if [[ -n ${BENCH_RAMPART_BIN:-} ]]; then
    [[ -x $rampart_bin ]] || die "BENCH_RAMPART_BIN=$rampart_bin is not an executable"
    cargo build --release --locked --bin rampart-bench
else
    cargo build --release --locked --bin rampart --bin rampart-bench
fi

# ---------------------------------------------------------------- clean-up
rampart_pid=""
bare_pid=""
flood_pid=""
profile_pid=""
db_ready=0

stop_pid() {
    local pid=$1 waited=0
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$profile_pid"
    stop_pid "$flood_pid"
    stop_pid "$bare_pid"
    stop_pid "$rampart_pid"
    if ((db_ready)); then
        BENCH_ADMIN_URL=$ADMIN_URL "$bench_bin" drop --database "$database" ||
            say "could not drop the database $database; drop it by hand"
    fi
    declare -F stop_private_db >/dev/null && stop_private_db
    # The master key, the mails with their links and the tokens go; the
    # logs and the table stay for reading.
    rm -rf -- "$work/state" "$work/seed" "$work/times.txt"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf -- "$work"
mkdir -p -- "$work/logs" "$work/seed" "$work/state"

# ---------------------------------------------------------------- servers
# shellcheck source=scripts/with-db.sh
source "$root/scripts/with-db.sh"
say "$DB_DESCRIPTION"
db_ready=1
# A run killed before its clean-up may have left the database behind.
BENCH_ADMIN_URL=$ADMIN_URL "$bench_bin" drop --database "$database"

# wait_http URL PID SECONDS: wait until URL answers 200 while PID lives.
wait_http() {
    local url=$1 pid=$2 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url") == 200 ]] && return 0
        sleep 0.2
    done
    return 1
}

say "starting rampart on 127.0.0.1:$port (database $database)"
unset RAMPART_CONFIG RAMPART_DATABASE_URL
RAMPART_ENV=development \
    RAMPART_LISTEN="127.0.0.1:$port" \
    RAMPART_STATE_DIR="$work/state" \
    RAMPART_LOG_FORMAT=json \
    RAMPART_LOG=${RAMPART_LOG:-warn} \
    RAMPART_DATABASE_MAX_CONNECTIONS=$pool_size \
    RAMPART_ARGON2__M_COST_KIB=$m_cost \
    RAMPART_ARGON2__T_COST=$t_cost \
    RAMPART_ARGON2__P_COST=$p_cost \
    RAMPART_ADMIN_DATABASE_URL=$ADMIN_URL \
    "$rampart_bin" dev --database "$database" >"$work/logs/rampart.log" 2>&1 &
rampart_pid=$!
wait_http "http://127.0.0.1:$port/readyz" "$rampart_pid" 120 || {
    tail -n 20 "$work/logs/rampart.log" >&2
    die "rampart did not get ready; log in $work/logs/rampart.log"
}

# ---------------------------------------------------------------- seeding
seed="$work/seed"
base="http://127.0.0.1:$port"

# shellcheck source=bench/seed.sh
source "$root/bench/seed.sh"
seed_customers

say "starting the bare ceiling on 127.0.0.1:$bare_port"
bare_args=(--database "$database" --listen "127.0.0.1:$bare_port" --max-connections "$pool_size")
[[ ${BENCH_BARE_PING:-0} == 1 ]] && bare_args+=(--ping-before-acquire)
BENCH_ADMIN_URL=$ADMIN_URL "$bench_bin" bare "${bare_args[@]}" >"$work/logs/bare.log" 2>&1 &
bare_pid=$!
wait_http "http://127.0.0.1:$bare_port/accounts/$(head -n 1 "$seed/ids.txt")" "$bare_pid" 60 ||
    die "the bare program did not get ready; log in $work/logs/bare.log"

# ---------------------------------------------------------------- loads
# Figures of every wrk run: r[NAME.KEY] from the `bench KEY VALUE` lines
# the Lua scripts print (see lua/common.lua).
declare -A r

read_report() { # NAME: reads logs/NAME.txt into r
    local key value
    while read -r _ key value; do
        r[$1.$key]=$value
    done < <(grep '^bench ' "$work/logs/$1.txt")
}

# wrk_run NAME ARGS...: runs wrk, output in logs/NAME.txt, figures in r.
wrk_run() {
    local name=$1
    shift
    # A guard well past wrk's own -d, so that nothing can hang the run.
    timeout 300 wrk "$@" >"$work/logs/$name.txt" 2>&1 ||
        die "wrk failed ($name); see $work/logs/$name.txt"
    read_report "$name"
}

# ok_rate NAME: answers below 400 per second.
ok_rate() {
    calc "(${r[$1.requests]} - ${r[$1.errors_status]}) / ${r[$1.duration_s]}"
}

vm_hwm_mb() {
    awk '/^VmHWM:/ { printf "%.0f", $2 * 1024 / 1e6 }' "/proc/$rampart_pid/status"
}

# profile_start NAME SECONDS / profile_finish NAME: with BENCH_PROFILE=1,
# samples every process for SECONDS and writes the CPU share of each
# command and the hottest functions to logs/perf-NAME.txt.
profile_start() {
    [[ ${BENCH_PROFILE:-0} == 1 ]] || return 0
    perf record -a -g -F 499 -o "$work/logs/perf-$1.data" -- sleep "$2" \
        >"$work/logs/perf-$1.record.log" 2>&1 &
    profile_pid=$!
}
profile_finish() {
    [[ -n $profile_pid ]] || return 0
    wait "$profile_pid" || true
    profile_pid=""
    local data="$work/logs/perf-$1.data" sort
    for sort in comm comm,dso comm,dso,symbol; do
        echo "== share of all samples by $sort"
        perf report -i "$data" --stdio --no-children --sort "$sort" -g none --percent-limit 0.3 |
            grep -v '^#' | grep -v '^$' | sed 's/  *$//' | cut -c1-200
    done >"$work/logs/perf-$1.txt" 2>/dev/null || say "perf report failed for $1"
}

# How much CPU other work took while we measured: all busy time of the
# machine minus the server's, the database server's and that of our own
# children (wrk, the bare program, perf), in clock ticks. A few percent is
# normal background; much more means the figures are disturbed.
ticks_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
ticks_of() { # PID...: user + system ticks of live processes
    local pid total=0
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        # Fields after the command name, which ends with the last ')'.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}
# The database server's pid if it listens on this machine (else empty).
db_port=$(sed -E 's#^[a-z]+://([^@/]*@)?[^:/?]*:?([0-9]*).*#\2#' <<<"$ADMIN_URL")
db_pid=$(ss -ltnpH "sport = :${db_port:-3306}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)

# Sets `ours` to the ticks of the server, the database server and the
# waited-for children of this shell. `times` runs in this shell on purpose:
# in a $(...) subshell it would count the subshell's children only.
count_ours() {
    local children
    times >"$work/times.txt"
    children=$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); sum += (t[1] * 60 + t[2]) * hz }
        printf "%d", sum }' "$work/times.txt")
    ours=$(($(ticks_of "$rampart_pid" "$db_pid") + children))
}
# The database server should be idle now; if it is busy with something
# else (another user's queries, a stuck statement), say so, since that
# work is counted as ours below and would hide the disturbance.
db_idle_ticks=$(ticks_of "$db_pid")
sleep 2
db_idle_share=$(calc "100 * ($(ticks_of "$db_pid") - $db_idle_ticks) / (2 * $(getconf CLK_TCK))")
at_least 10 "$db_idle_share" ||
    say "warning: the database server used $db_idle_share% of a core while idle; the figures will be disturbed"
busy_start=$(ticks_busy)
count_ours
ours_start=$ours
wall_start=$SECONDS

read_args=(-t 2 -c "$read_connections" --timeout 5s --latency)
say "warming up both read paths (${warm_up_seconds} s each)"
wrk_run warm_bare "${read_args[@]}" -d "${warm_up_seconds}s" -s "$lua/bare.lua" \
    "http://127.0.0.1:$bare_port" -- "$seed/ids.txt"
wrk_run warm_me "${read_args[@]}" -d "${warm_up_seconds}s" -s "$lua/me.lua" \
    "$base" -- "$seed/tokens.txt"

say "ceiling: bare read, $read_connections connections, ${read_seconds} s"
profile_start bare "$((read_seconds - 2))"
wrk_run bare "${read_args[@]}" -d "${read_seconds}s" -s "$lua/bare.lua" \
    "http://127.0.0.1:$bare_port" -- "$seed/ids.txt"
profile_finish bare
say "rampart: GET /v1/me, $read_connections connections, ${read_seconds} s"
profile_start me "$((read_seconds - 2))"
wrk_run me "${read_args[@]}" -d "${read_seconds}s" -s "$lua/me.lua" \
    "$base" -- "$seed/tokens.txt"
profile_finish me
hwm_reads=$(vm_hwm_mb)
# The ceiling's work is done; it should not take CPU from what follows.
stop_pid "$bare_pid"
bare_pid=""

# The Argon2 ceiling is timed while the server is idle, right before and
# right after the logins, and the mean is used: on a shared host the speed
# of the cores drifts (by up to half over minutes, seen here), and the ratio
# only holds if both are measured at the same time.
hash_args=(hash-time --m-cost-kib "$m_cost" --t-cost "$t_cost" --p-cost "$p_cost")
time_hash() { # prints the median microseconds of one hash on one thread
    local us
    us=$("$bench_bin" "${hash_args[@]}" | sed -n 's/^median_us=//p')
    [[ $us =~ ^[0-9]+$ ]] || die "could not time Argon2"
    echo "$us"
}
say "timing one Argon2id hash (m=$m_cost KiB, t=$t_cost, p=$p_cost)"
hash_before_us=$(time_hash)
# Not the issue's ceiling, but what explains a gap to it: one hash per core
# at the same time, as the server's workers hash under load. Cores that
# share caches, memory bandwidth or a physical core make each hash slower.
parallel=$("$bench_bin" "${hash_args[@]}" --threads "$cores")
hash_parallel_us=$(sed -n 's/^median_us=//p' <<<"$parallel")
hash_parallel_rate=$(sed -n 's/^per_second=//p' <<<"$parallel")

say "logins: $login_connections connections, ${login_seconds} s"
profile_start login "$((login_seconds - 2))"
wrk_run login -t 1 -c "$login_connections" -d "${login_seconds}s" --timeout 30s --latency \
    -s "$lua/login.lua" "$base" -- "$seed/logins.txt"
profile_finish login
hwm_logins=$(vm_hwm_mb)
hash_after_us=$(time_hash)
hash_us=$(((hash_before_us + hash_after_us) / 2))
argon2_ceiling=$(calc "$cores * 1000000 / $hash_us")

# Fresh tokens for the readers of the flood (access tokens live 10 min).
login_all
flood_rate=$(calc "2 * $argon2_ceiling")
flood_rate=${flood_rate%.*}
say "login flood at $flood_rate/s with $flood_readers connections reading GET /v1/me"
timeout 300 wrk -t 1 -c "$flood_connections" -d "$((flood_seconds + 4))s" --timeout 30s --latency \
    -s "$lua/login.lua" "$base" -- "$seed/logins.txt" "$flood_rate" \
    >"$work/logs/flood.txt" 2>&1 &
flood_pid=$!
# Readers start once the queue of waiting logins has built up, and stop
# before the flood does.
sleep 2
profile_start flood "$((flood_seconds - 2))"
wrk_run flood_me -t 1 -c "$flood_readers" -d "${flood_seconds}s" --timeout 5s --latency \
    -s "$lua/me.lua" "$base" -- "$seed/tokens.txt"
profile_finish flood
wait "$flood_pid" || die "wrk failed (flood); see $work/logs/flood.txt"
flood_pid=""
read_report flood
hwm_flood=$(vm_hwm_mb)

# ---------------------------------------------------------------- table
count_ours
other_ticks=$(($(ticks_busy) - busy_start - (ours - ours_start)))
other_share=$(calc "100 * $other_ticks / ($(getconf CLK_TCK) * $cores * $((SECONDS - wall_start)))")
me_rate=$(ok_rate me)
bare_rate=$(ok_rate bare)
me_share=$(calc "100 * $me_rate / $bare_rate")
login_ok=${r[login.status_200]:-0}
login_rate=$(calc "$login_ok / ${r[login.duration_s]}")
login_throttled=${r[login.status_503]:-0}
login_failed=$((${r[login.requests]} - login_ok - login_throttled + ${r[login.errors_socket]}))
login_share=$(calc "100 * $login_rate / $argon2_ceiling")
flood_ok=${r[flood.status_200]:-0}
flood_throttled=${r[flood.status_503]:-0}
flood_failed=$((${r[flood.requests]} - flood_ok - flood_throttled + ${r[flood.errors_socket]}))
flood_offered=$(calc "${r[flood.sent]} / ${r[flood.duration_s]}")
flood_me_failed=$((${r[flood_me.errors_status]} + ${r[flood_me.errors_socket]}))
hash_ms=$(calc "$hash_us / 1000")

fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, x }' </dev/null; }
failures() { # NAME: status >= 400 and socket errors of a read run
    local s=${r[$1.errors_status]} k=${r[$1.errors_socket]}
    printf '%s failed (%s status, %s socket)' "$((s + k))" "$s" "$k"
}

table="$work/results.md"
{
    echo "| measure | how | result | target | met |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| \`GET /v1/me\` | $read_connections connections, ${read_seconds} s, tokens of $customers customers | $(fmt "$me_rate") req/s, p50 $(fmt "${r[me.p50_ms]}" 1) ms, p99 $(fmt "${r[me.p99_ms]}" 1) ms; $(failures me) | ≥ 50% of the ceiling, p99 ≤ 25 ms | $(yes_no at_least "$me_share" 50) / $(yes_no at_least 25 "${r[me.p99_ms]}") |"
    echo "| ceiling: bare primary-key read | same load on \`rampart-bench bare\` (axum + sqlx, no security layer) | $(fmt "$bare_rate") req/s, p50 $(fmt "${r[bare.p50_ms]}" 1) ms, p99 $(fmt "${r[bare.p99_ms]}" 1) ms; $(failures bare) | — | |"
    echo "| \`/v1/me\` ÷ ceiling | | $(fmt "$me_share" 1)% | ≥ 50% | $(yes_no at_least "$me_share" 50) |"
    echo "| Argon2 ceiling | $cores cores ÷ median time of one hash (m=$m_cost KiB, t=$t_cost, p=$p_cost): $(fmt "$hash_ms" 2) ms (mean of $(fmt "$(calc "$hash_before_us / 1000")" 2) ms before and $(fmt "$(calc "$hash_after_us / 1000")" 2) ms after the logins) | $(fmt "$argon2_ceiling") logins/s | — | |"
    echo "| Argon2, all cores at once | $cores threads hashing together, measured | $(fmt "$hash_parallel_rate") hashes/s (one hash $(fmt "$(calc "$hash_parallel_us / 1000")" 2) ms) | — | |"
    echo "| logins | $login_connections connections, ${login_seconds} s, correct passwords of $customers customers | $(fmt "$login_rate") logins/s, p50 $(fmt "${r[login.p50_ms]}" 0) ms, p99 $(fmt "${r[login.p99_ms]}" 0) ms; $login_throttled throttled (503), $login_failed failed | ≥ 80% of the Argon2 ceiling | $(yes_no at_least "$login_share" 80) |"
    echo "| logins ÷ Argon2 ceiling | | $(fmt "$login_share" 1)% (of all cores at once: $(fmt "$(calc "100 * $login_rate / $hash_parallel_rate")" 1)%) | ≥ 80% | $(yes_no at_least "$login_share" 80) |"
    echo "| login flood | open loop at 2 × ceiling = $flood_rate/s, $flood_connections connections, $((flood_seconds + 4)) s | offered $(fmt "$flood_offered")/s; $flood_ok ok ($(fmt "$(calc "$flood_ok / ${r[flood.duration_s]}")")/s), $flood_throttled throttled (503), $flood_failed failed | — | |"
    echo "| \`GET /v1/me\` during the flood | $flood_readers connections, ${flood_seconds} s | $(fmt "$(ok_rate flood_me)") req/s, p50 $(fmt "${r[flood_me.p50_ms]}" 1) ms, p99 $(fmt "${r[flood_me.p99_ms]}" 1) ms; $(failures flood_me) | p99 ≤ 50 ms, no failure | $(yes_no at_least 50 "${r[flood_me.p99_ms]}") / $(yes_no test "$flood_me_failed" -eq 0) |"
    echo "| server peak memory (VmHWM) | after the reads / the logins / the flood | $hwm_reads / $hwm_logins / $hwm_flood MB | ≤ 150 MB under the flood | $(yes_no at_least 150 "$hwm_flood") |"
} >"$table"
{
    echo "Machine: $cores cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
        "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "Other processes took $(fmt "$other_share")% of the machine's CPU during the loads;" \
        "the database server used $(fmt "$db_idle_share")% of a core while idle just before."
    echo "MB = 10^6 bytes. wrk runs on the same cores; logs in $work/logs."
    for knob in BENCH_RAMPART_BIN BENCH_BARE_PING BENCH_PROFILE RAMPART_HASH_WORKERS \
        RAMPART_HASH_MAX_IN_FLIGHT RAMPART_HASH_WAIT_MS RAMPART_DATABASE_MAX_CONNECTIONS; do
        if [[ -n ${!knob:-} ]]; then echo "Set for this run: $knob=${!knob}"; fi
    done
} >"$work/machine.txt"

echo
cat -- "$table"
echo
cat -- "$work/machine.txt"
