#!/bin/sh
# run.sh - send requests to the tutorial's customer service and number the answers.
#
#   sh run.sh [-p SECONDS] [COUNT] URL
#
# Prints "# <i>: <body>" for i = 0 .. COUNT-1 (docs/EGRESS-LAB-OPENSHIFT.md, "run.sh"). Error answers are printed like any
# other answer and never stop the loop: the error chain is what the labs want you to see.
# Without COUNT it loops until interrupted (Ctrl-C), like the original tutorial's run.sh.
# Self-contained on purpose: trainers copy it around and run it as `sh run.sh 1000 $GATEWAY_URL`.
set -eu

usage() {
    cat <<'EOF'
Usage: sh run.sh [-p SECONDS] [COUNT] URL

Send COUNT requests to URL and print each answer as "# <i>: <body>", i from 0.
Without COUNT, loop until interrupted (Ctrl-C).

  URL          e.g. $GATEWAY_URL, localhost:8080 or http://localhost:8080/
               (a bare host gets http://)
  COUNT        number of requests, a non-negative integer
  -p SECONDS   pause between requests (default: $RUN_PAUSE or 0; fractions
               such as 0.5 work with GNU, BusyBox and BSD sleep)
  -h, --help   show this help

Environment:
  RUN_PAUSE     default pause between requests, seconds (0)
  RUN_TIMEOUT   per-request timeout handed to curl --max-time, seconds (30)

Error answers (503 chains, timeouts) are printed and the loop goes on. When
nothing listens at URL (connection refused, unknown host) 5 times in a row, or
for every request of a shorter run, run.sh stops with a hint.
Exit status: 0 when done, 2 on bad arguments, 3 when nothing listens at URL,
127 without curl.

Example:
  sh scripts/run.sh 10 "$GATEWAY_URL"
  # 0: customer => preference => recommendation v1 from 'recommendation-v1-6cf5ff55d9-7zbj8': 1
EOF
}

bad_usage() {
    printf 'run.sh: %s\n' "$1" >&2
    printf 'Usage: sh run.sh [-p SECONDS] [COUNT] URL   (sh run.sh --help for more)\n' >&2
    exit 2
}

is_count() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

is_pause() {
    case $1 in
        '' | . | *[!0-9.]* | *.*.*) return 1 ;;
        *) return 0 ;;
    esac
}

: "${RUN_PAUSE:=0}"
: "${RUN_TIMEOUT:=30}"

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        -p | --pause)
            [ $# -ge 2 ] || bad_usage "$1 needs a value (seconds)"
            RUN_PAUSE=$2
            shift 2
            ;;
        --pause=*)
            RUN_PAUSE=${1#--pause=}
            shift
            ;;
        --)
            shift
            break
            ;;
        -?*) bad_usage "unknown option: $1" ;;
        *) break ;;
    esac
done

case $# in
    1)
        COUNT=
        URL=$1
        ! is_count "$URL" || bad_usage "'$URL' is a COUNT, and the URL is missing (is GATEWAY_URL set? see scripts/deploy.sh)"
        ;;
    2)
        COUNT=$1
        URL=$2
        is_count "$COUNT" || bad_usage "COUNT must be a non-negative integer, got '$COUNT'"
        ;;
    0) bad_usage "missing URL" ;;
    *) bad_usage "too many arguments" ;;
esac

[ -n "$URL" ] || bad_usage "URL is empty (is GATEWAY_URL set? see scripts/deploy.sh)"
is_pause "$RUN_PAUSE" || bad_usage "pause must be a number of seconds, got '$RUN_PAUSE'"
is_count "$RUN_TIMEOUT" || bad_usage "RUN_TIMEOUT must be whole seconds, got '$RUN_TIMEOUT'"

case $URL in
    http://* | https://*) ;;
    *) URL="http://$URL" ;;
esac
case $URL in
    *[[:space:]]* | http:// | https:// | http:///* | https:///*) bad_usage "'$URL' is not a URL" ;;
esac

if ! command -v curl >/dev/null 2>&1; then
    printf 'run.sh: curl not found on PATH.\n' >&2
    printf 'Fix: install it (Fedora/RHEL: sudo dnf install curl; Debian/Ubuntu: sudo apt-get install curl).\n' >&2
    exit 127
fi

# Nothing listens at URL: say where the lab or the cluster's gateway should be, and stop.
nothing_listens() {
    printf 'run.sh: nothing accepted a connection at %s (%s request(s) in a row).\n' "$URL" "$1" >&2
    printf '  The local mesh: is it up? Start it with: mesh-lab up   (then URL is http://127.0.0.1:8080/)\n' >&2
    printf '  A cluster: is GATEWAY_URL the ingress gateway'"'"'s route? See scripts/deploy.sh.\n' >&2
    exit 3
}

i=0
down=0
while [ -z "$COUNT" ] || [ "$i" -lt "$COUNT" ]; do
    # -s: no progress meter; -S: still say why a request failed (refused, timed out).
    # No -f: a 503 body IS the answer to show. stderr is folded in so failures get a numbered line too.
    status=0
    body=$(curl -sS --max-time "$RUN_TIMEOUT" "$URL" 2>&1) || status=$?
    printf '# %s: %s\n' "$i" "$body"
    i=$((i + 1))
    # curl: 6 could not resolve the host, 7 could not connect.
    case $status in
        6 | 7) down=$((down + 1)) ;;
        *) down=0 ;;
    esac
    [ "$down" -lt 5 ] || nothing_listens "$down"
    if [ "$RUN_PAUSE" != 0 ] && { [ -z "$COUNT" ] || [ "$i" -lt "$COUNT" ]; }; then
        sleep "$RUN_PAUSE"
    fi
done
[ "$i" -eq 0 ] || [ "$down" -lt "$i" ] || nothing_listens "$down"
