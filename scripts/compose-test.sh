#!/bin/sh
# compose-test.sh - build the images and run docker-compose.yml for real: the chain's exact bodies over the
# service names, recommendation v3 reaching the stand-in as worldclockapi.com, the error chain when the time
# API fails or is gone, clean teardown. Skips (exit 0) only when no Docker engine is reachable.
#
#   sh scripts/compose-test.sh
set -eu

usage() {
    cat <<'EOF'
Usage: sh scripts/compose-test.sh

Builds the images (scripts/images.sh, tag test-<pid>), starts docker-compose.yml
under the project name itrs-test-<pid> with free host ports on 127.0.0.1, and
checks:
  - images: non-root numeric user with group 0, <= 10 MB, OCI labels
  - containers: healthy (their own --healthcheck), read-only root, no caps
  - curl customer: exactly "customer => preference => recommendation v1 from
    '<recommendation's container hostname>': 1"
  - RECOMMENDATION_VERSION=v3: the stand-in's frozen time in the body
  - the stand-in's run-time fault switch, then the stand-in stopped: the
    503/500 error chain naming http://worldclockapi.com/api/json/cet/now
  - down -v leaves no container or network behind
Containers, networks and the test's images are removed on exit, pass or fail.
A developer's running demo (project, port 8080, :latest images) is untouched.

Environment:
  COMPOSE   compose command (default: "docker compose" when available,
            else docker-compose)
  COMPOSE_TEST_TIMEOUT   seconds to wait for health (default 90)

Exit status: 0 passed or skipped (no Docker engine), 1 failed, 2 bad arguments.
EOF
}

case "${1:-}" in
-h | --help)
    usage
    exit 0
    ;;
"") ;;
*)
    printf 'compose-test.sh: unknown argument %s (see --help)\n' "$1" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."

# --- skip only when there is no engine to talk to ---------------------------------------------------------
if ! command -v docker >/dev/null 2>&1; then
    echo "compose-test.sh: SKIP: no docker CLI on PATH, so no Docker engine is reachable"
    exit 0
fi
if ! engine_error="$(docker info --format '{{.ServerVersion}}' 2>&1)"; then
    echo "compose-test.sh: SKIP: no Docker engine reachable (docker info: $(printf '%s\n' "$engine_error" | grep -m 1 .))"
    exit 0
fi
# From here on, a missing compose tool is a failure, not a skip.
if [ -n "${COMPOSE:-}" ]; then
    compose_cmd="$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    compose_cmd="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd="docker-compose"
else
    echo "compose-test.sh: FAIL: Docker engine $engine_error is reachable but neither 'docker compose' nor docker-compose exists" >&2
    exit 1
fi

project="itrs-test-$$"
tag="test-$$"
deadline_secs="${COMPOSE_TEST_TIMEOUT:-90}"
work="$(mktemp -d)"
services="customer preference recommendation worldclockapi.com"
images="customer preference recommendation worldclock-standin"
now_fixed="2020-04-06T18:31+02:00"
time_url="http://worldclockapi.com/api/json/cet/now"

# Everything docker-compose.yml reads, pinned so a developer's environment cannot leak in.
export IMAGE_TAG="$tag" CUSTOMER_PORT=0 STANDIN_PORT=0 STANDIN_NOW="$now_fixed" STANDIN_FAULT=none \
    RECOMMENDATION_VERSION=v1 RESPONSE_DELAY=0s WORLDCLOCK_URL="$time_url"

compose() {
    # shellcheck disable=SC2086 # $compose_cmd is one or two words
    $compose_cmd --project-name "$project" --file docker-compose.yml "$@"
}

started=$(date +%s)
step() { printf '\n--> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() {
    printf 'compose-test.sh: FAIL: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ]; then
        echo "--- state at failure (exit $status) ---" >&2
        compose ps >&2 2>&1 || true
        compose logs --no-color --tail 20 >&2 2>&1 || true
    fi
    compose down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    for name in $images; do
        docker image rm "istio-tutorial-rs/$name:$tag" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ---------------------------------------------------------------------------------------------
container_of() {
    id="$(compose ps -q "$1" | head -n 1)"
    [ -n "$id" ] || fail "no container for service $1"
    printf '%s' "$id"
}

wait_healthy() {
    until_ts=$(($(date +%s) + deadline_secs))
    for svc in $services; do
        id="$(container_of "$svc")"
        while :; do
            state="$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
            case "$state" in
            "running healthy") break ;;
            running*) ;;
            *) fail "$svc is '$state' instead of running: $(docker logs --tail 5 "$id" 2>&1)" ;;
            esac
            [ "$(date +%s)" -lt "$until_ts" ] || fail "$svc not healthy after ${deadline_secs}s (state: $state)"
            sleep 1 # polling the engine's health state, bounded by the deadline above
        done
    done
}

host_port() {
    mapping="$(compose port "$1" "$2" | tail -n 1)"
    port="${mapping##*:}"
    case "$port" in
    '' | *[!0-9]*) fail "no host port for $1:$2 (compose port said '$mapping')" ;;
    esac
    printf '%s' "$port"
}

# Host ports are ephemeral (CUSTOMER_PORT=0): read them again whenever a container may have been recreated.
read_ports() {
    customer_port="$(host_port customer 8080)"
    standin_port="$(host_port worldclockapi.com 80)"
}

# get URL -> $work/body and $work/status
get() {
    curl -sS --max-time 20 -o "$work/body" -w '%{http_code}' "$1" >"$work/status" ||
        fail "curl $1 failed"
}

expect_exact() {
    want_status="$1" want_body="$2"
    get "http://127.0.0.1:$customer_port/"
    printf '%s\n' "$want_body" >"$work/want"
    if [ "$(cat "$work/status")" != "$want_status" ] || ! cmp -s "$work/body" "$work/want"; then
        fail "customer answered $(cat "$work/status") '$(cat "$work/body")', expected $want_status '$want_body' (plus one newline)"
    fi
    printf 'ok: %s %s\n' "$want_status" "$want_body"
}

expect_prefix() {
    want_status="$1" prefix="$2"
    get "http://127.0.0.1:$customer_port/"
    body="$(cat "$work/body")"
    case "$body" in
    "$prefix"*) ;;
    *) fail "customer answered '$body', expected it to start with '$prefix'" ;;
    esac
    [ "$(cat "$work/status")" = "$want_status" ] || fail "customer answered $(cat "$work/status"), expected $want_status: $body"
    [ "$(wc -l <"$work/body" | tr -d ' ')" = 1 ] || fail "error body is not exactly one line: $body"
    printf 'ok: %s %s\n' "$want_status" "$body"
}

# --- images ----------------------------------------------------------------------------------------------
step "build static binaries and images (tag $tag, no layer cache)"
sh scripts/images.sh --tag "$tag" --no-cache

step "images: non-root user with group 0, size <= 10 MB, OCI labels"
for name in $images; do
    image="istio-tutorial-rs/$name:$tag"
    user="$(docker image inspect --format '{{.Config.User}}' "$image")"
    case "$user" in
    '' | 0 | 0:* | root | root:*) fail "$image runs as root (User='$user')" ;;
    *[!0-9:]*) fail "$image user '$user' is not numeric (OpenShift's arbitrary UIDs need numbers)" ;;
    *:0) ;;
    *) fail "$image user '$user' is not in group 0" ;;
    esac
    size="$(docker image inspect --format '{{.Size}}' "$image")"
    [ "$size" -le 10000000 ] || fail "$image is $size bytes, over 10 MB"
    for label in source version description; do
        value="$(docker image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$label\"}}" "$image")"
        [ -n "$value" ] || fail "$image has no org.opencontainers.image.$label label"
    done
    printf 'ok: %s user %s, %s bytes\n' "$image" "$user" "$size"
done

# --- the chain -------------------------------------------------------------------------------------------
step "$compose_cmd up -d (project $project)"
compose up -d
wait_healthy
read_ports

step "hardening as running: read-only root, all capabilities dropped, no-new-privileges"
for svc in $services; do
    id="$(container_of "$svc")"
    hardening="$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' "$id")"
    case "$hardening" in
    "true [ALL] [no-new-privileges"*) printf 'ok: %s %s\n' "$svc" "$hardening" ;;
    *) fail "$svc runs with '$hardening'" ;;
    esac
done

step "v1 over the service names preference and recommendation"
host="$(docker inspect --format '{{.Config.Hostname}}' "$(container_of recommendation)")"
expect_exact 200 "customer => preference => recommendation v1 from '$host': 1"

step "v3: recommendation reaches the stand-in as worldclockapi.com (port 80, frozen clock)"
RECOMMENDATION_VERSION=v3 compose up -d
wait_healthy
read_ports
host="$(docker inspect --format '{{.Config.Hostname}}' "$(container_of recommendation)")"
expect_exact 200 "customer => preference => recommendation v3 $now_fixed from '$host': 1"

step "the stand-in's run-time fault switch (mode=error), then back to normal"
curl -sS --max-time 10 -o /dev/null -X POST "http://127.0.0.1:$standin_port/_standin/fault?mode=error" ||
    fail "cannot switch the stand-in's fault"
expect_prefix 503 "customer => Error: 503 - preference => Error: 500 - time lookup $time_url failed: "
curl -sS --max-time 10 -o /dev/null -X POST "http://127.0.0.1:$standin_port/_standin/fault?mode=none" ||
    fail "cannot clear the stand-in's fault"
expect_exact 200 "customer => preference => recommendation v3 $now_fixed from '$host': 3"

step "stand-in stopped: worldclockapi.com is gone, the error chain names the URL"
RECOMMENDATION_VERSION=v3 compose stop worldclockapi.com
expect_prefix 503 "customer => Error: 503 - preference => Error: 500 - time lookup $time_url failed: "

step "down -v leaves nothing running"
RECOMMENDATION_VERSION=v3 compose down --volumes --remove-orphans --timeout 5
left="$(docker ps -a -q --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "containers left after down: $left"
left="$(docker network ls -q --filter "name=${project}_")"
[ -z "$left" ] || fail "networks left after down: $left"
echo "ok: no containers, no networks of $project"

step "compose test passed in $(($(date +%s) - started))s"
