# shellcheck shell=bash
# shellcheck disable=SC2154 # settings and helpers come from run.sh
# Sourced by run.sh: creates customers through the API, as users would,
# since their data is encrypted by the server and cannot be inserted by SQL.
# Uses run.sh's settings and helpers (customers, seed, base, work, say, die).
#
# seed_customers leaves in $seed:
#   logins.txt  one login body per customer (correct password)
#   tokens.txt  one fresh access token per customer (login_all renews them)
#   ids.txt     the customers' account ids, for the bare program

# batch NAME EXPECT: sends request i (curl config lines in $seed/NAME/i.req)
# for every i, at most $seed_parallel at once, its answer going to
# $seed/NAME/i.out. Requests answered otherwise than EXPECT (e.g. 503 from a
# full hashing pool) are sent again, a few times at most.
batch() {
    local name=$1 expect=$2 dir="$seed/$1" attempt config results i
    local pending=()
    for ((i = 1; i <= customers; i++)); do pending+=("$i"); done
    for attempt in 1 2 3 4 5; do
        config="$dir/batch.cfg"
        : >"$config"
        for i in "${pending[@]}"; do
            [[ -s $config ]] && echo next >>"$config"
            cat -- "$dir/$i.req" >>"$config"
            # Options after `next` start afresh, so each request names its own.
            printf 'silent\nshow-error\nmax-time = 30\noutput = "%s"\nwrite-out = "%%{http_code} %s\\n"\n' \
                "$dir/$i.out" "$i" >>"$config"
        done
        results=$(curl --parallel --parallel-max "$seed_parallel" --no-progress-meter \
            --config "$config" 2>>"$work/logs/seed-curl.log") || true
        # Still pending: every request without an EXPECT line (a transfer
        # curl could not make at all may print nothing).
        mapfile -t pending < <(comm -23 <(printf '%s\n' "${pending[@]}" | sort) \
            <(awk -v want="$expect" '$1 == want { print $2 }' <<<"$results" | sort))
        ((${#pending[@]} == 0)) && return 0
        say "$name: ${#pending[@]} not answered $expect (attempt $attempt), retrying"
        sleep 1
    done
    die "seeding failed at $name: ${#pending[@]} requests not answered $expect"
}

# post_json NAME i PATH: writes request i of batch NAME, a JSON POST of the
# body already in $seed/NAME/i.json.
post_json() {
    printf 'url = "%s%s"\nheader = "Content-Type: application/json"\ndata-binary = "@%s"\n' \
        "$base" "$3" "$seed/$1/$2.json" >"$seed/$1/$2.req"
}

password() { printf 'lantern orbit cobalt ferry %d' "$1"; }
email() { printf 'customer-%d@bench.rampart.example' "$1"; }

login_all() {
    rm -rf -- "$seed/login" "$seed/me"
    mkdir -p -- "$seed/login" "$seed/me"
    local i
    for ((i = 1; i <= customers; i++)); do
        cp -- "$seed/bodies/$i.json" "$seed/login/$i.json"
        post_json login "$i" /v1/auth/login
    done
    batch login 200
    : >"$seed/tokens.txt"
    for ((i = 1; i <= customers; i++)); do
        # The answers end without a newline, which sed would keep.
        printf '%s\n' "$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$seed/login/$i.out")" >>"$seed/tokens.txt"
    done
    (($(grep -c . "$seed/tokens.txt") == customers)) || die "a login answer had no access token"
}

seed_customers() {
    local i token deadline outbox="$work/state/outbox"
    say "seeding $customers customers through the API"
    mkdir -p -- "$seed/register" "$seed/verify" "$seed/bodies"
    for ((i = 1; i <= customers; i++)); do
        printf '{"email":"%s","password":"%s","full_name":"Bench Customer %d"}' \
            "$(email "$i")" "$(password "$i")" "$i" >"$seed/register/$i.json"
        post_json register "$i" /v1/auth/register
        printf '{"email":"%s","password":"%s"}' "$(email "$i")" "$(password "$i")" >"$seed/bodies/$i.json"
        cat -- "$seed/bodies/$i.json" >>"$seed/logins.txt"
        echo >>"$seed/logins.txt"
    done
    batch register 202

    # Mail is written in the background: wait for every confirmation link.
    deadline=$((SECONDS + 60))
    while (($(grep -l -s 'verify-email?token=' "$outbox"/*.eml | wc -l) < customers)); do
        ((SECONDS < deadline)) || die "not all confirmation mails arrived in $outbox"
        sleep 0.2
    done
    awk 'FNR == 1 { who = ""; token = "" }
         /^To:/ && match($0, /customer-[0-9]+@/) { who = substr($0, RSTART + 9, RLENGTH - 10) }
         match($0, /verify-email\?token=[A-Za-z0-9_-]+/) { token = substr($0, RSTART + 19, RLENGTH - 19) }
         who != "" && token != "" { print who, token; who = ""; token = "" }' \
        "$outbox"/*.eml >"$seed/verify-links.txt"
    while read -r i token; do
        printf '{"token":"%s"}' "$token" >"$seed/verify/$i.json"
        post_json verify "$i" /v1/auth/verify-email
    done <"$seed/verify-links.txt"
    for ((i = 1; i <= customers; i++)); do
        [[ -f $seed/verify/$i.req ]] || die "no confirmation link for customer $i"
    done
    batch verify 200

    login_all
    # Each customer's own profile once: checks every token and gives the
    # account ids the bare program reads.
    for ((i = 1; i <= customers; i++)); do
        printf 'url = "%s/v1/me"\nheader = "Authorization: Bearer %s"\n' \
            "$base" "$(sed -n "${i}p" "$seed/tokens.txt")" >"$seed/me/$i.req"
    done
    batch me 200
    : >"$seed/ids.txt"
    for ((i = 1; i <= customers; i++)); do
        printf '%s\n' "$(sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p' "$seed/me/$i.out")" >>"$seed/ids.txt"
    done
    (($(grep -c . "$seed/ids.txt") == customers)) || die "a profile answer had no id"
}
