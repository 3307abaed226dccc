#!/bin/sh
# images.sh - build the four static binaries with cargo on this machine, then the FROM-scratch images
# istio-tutorial-rs/<name>:<tag> from them (container/Containerfile). Nothing is pulled: this is build path (1)
# of docs/CONTAINERS.md, the one CI tests.
#
#   sh scripts/images.sh [--tag TAG] [--no-cache] [--skip-cargo] [--stage-only]
set -eu

usage() {
    cat <<'EOF'
Usage: sh scripts/images.sh [--tag TAG] [--no-cache] [--skip-cargo] [--stage-only]

Build static binaries of customer, preference, recommendation and
worldclock-standin (cargo, release, +crt-static on the host's gnu target),
then one FROM-scratch image per binary:

  istio-tutorial-rs/customer:TAG            istio-tutorial-rs/preference:TAG
  istio-tutorial-rs/recommendation:TAG      istio-tutorial-rs/worldclock-standin:TAG

  --tag TAG      image tag (default: $IMAGE_TAG or latest)
  --no-cache     build the images without the engine's layer cache
  --skip-cargo   reuse the binaries of the last build (no cargo run)
  --stage-only   stop after staging each image's build folder
                 ($CARGO_TARGET_DIR/images/<name>: Containerfile + rootfs/), which
                 OpenShift builds from: oc start-build <name> --from-dir=<that folder>
                 (kubernetes/images/builds.yml); no container engine needed
  -h, --help     show this help

Environment:
  DOCKER            container CLI (default docker; podman works too)
  CARGO_TARGET_DIR  cargo's target directory (default target)
  CARGO_PROFILE_RELEASE_OPT_LEVEL  optimisation level of the image build
                    (default s: smaller; the release profile's own is 3)
  CA_BUNDLE         CA certificates to ship (default: Debian's ca-certificates
                    package, /usr/share/ca-certificates/mozilla/*.crt)

Prints each image's size at the end. Exit status: 0 when built, 2 on bad
arguments, 1 on a failed build.
EOF
}

fail() {
    printf 'images.sh: %s\n' "$1" >&2
    exit "${2:-1}"
}

tag="${IMAGE_TAG:-latest}"
no_cache=""
skip_cargo=""
stage_only=""
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --tag)
        if [ $# -lt 2 ] || [ -z "$2" ]; then fail "--tag needs a value (see --help)" 2; fi
        tag="$2"
        shift
        ;;
    --no-cache) no_cache="--no-cache" ;;
    --skip-cargo) skip_cargo=1 ;;
    --stage-only) stage_only=1 ;;
    *) fail "unknown argument '$1' (see --help)" 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
docker="${DOCKER:-docker}"
services="customer preference recommendation worldclock-standin"

# Workspace facts for the OCI labels, read from Cargo.toml so they never drift.
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
source_url="$(sed -n 's/^repository = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

triple="$(rustc -vV | sed -n 's/^host: //p')"
case "$triple" in
*-linux-gnu*) ;;
*) fail "host target '$triple' is not *-linux-gnu: build the images with container/Dockerfile instead" ;;
esac
target_dir="${CARGO_TARGET_DIR:-target}"
bin_dir="$target_dir/$triple/release"

if [ -z "$skip_cargo" ]; then
    printf '==> cargo build --release --target %s (static: +crt-static)\n' "$triple"
    # An explicit --target keeps RUSTFLAGS away from build scripts and proc macros, which must stay dynamic.
    # opt-level "s" on top of the release profile: 15 % smaller binaries (docs/CONTAINERS.md), same behaviour.
    # Packed relative relocations (DT_RELR): the relocation table shrinks to a few KiB, and so does the part of
    # the binary every process has to touch at start (idle RSS, docs/BENCHMARKS.md).
    CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s}" \
        RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
        cargo build --release --locked --target "$triple" \
        -p customer -p preference -p recommendation -p worldclock-standin
fi

for name in $services; do
    [ -x "$bin_dir/$name" ] || fail "$bin_dir/$name is missing: run without --skip-cargo"
    # A static binary has no program interpreter (ld-linux); a scratch image has none to offer.
    if LC_ALL=C readelf -l "$bin_dir/$name" 2>/dev/null | grep -q 'Requesting program interpreter'; then
        fail "$bin_dir/$name is dynamically linked: a scratch image cannot run it"
    fi
done

# The CA bundle: Mozilla's roots as Debian packages them, not this machine's /etc/ssl/certs (which may hold
# local or proxy CAs that have no business in a published image).
stage="$target_dir/images"
mkdir -p "$stage"
if [ -n "${CA_BUNDLE:-}" ]; then
    cp "$CA_BUNDLE" "$stage/ca-certificates.crt"
elif ls /usr/share/ca-certificates/mozilla/*.crt >/dev/null 2>&1; then
    cat /usr/share/ca-certificates/mozilla/*.crt >"$stage/ca-certificates.crt"
else
    fail "no CA certificates: install Debian's ca-certificates package or set CA_BUNDLE"
fi

description_of() {
    sed -n 's/^description = "\(.*\)"$/\1/p' "$1/Cargo.toml" | head -n 1
}

for name in $services; do
    # One small context per image: rootfs/ is copied to / in one layer. Modes are set explicitly (a strict
    # umask must not make anything unreadable to the image's non-root user); owner root, as COPY makes it.
    context="$stage/$name"
    rm -rf "$context"
    mkdir -p "$context/rootfs/etc/ssl/certs"
    cp "$bin_dir/$name" "$context/rootfs/service"
    cp "$stage/ca-certificates.crt" "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
    cp container/nsswitch.conf "$context/rootfs/etc/nsswitch.conf"
    chmod 755 "$context/rootfs" "$context/rootfs/etc" "$context/rootfs/etc/ssl" "$context/rootfs/etc/ssl/certs" \
        "$context/rootfs/service"
    chmod 644 "$context/rootfs/etc/ssl/certs/ca-certificates.crt" "$context/rootfs/etc/nsswitch.conf"
    cp container/Containerfile "$context/Containerfile"
    if [ -n "$stage_only" ]; then
        printf '==> staged %s (oc start-build %s --from-dir=%s)\n' "$context" "$name" "$context"
        continue
    fi
    image="istio-tutorial-rs/$name:$tag"
    printf '==> %s build %s\n' "$docker" "$image"
    # shellcheck disable=SC2086 # $no_cache is empty or one flag
    "$docker" build $no_cache --quiet \
        --file "$context/Containerfile" \
        --build-arg "SERVICE=$name" \
        --build-arg "VERSION=$version" \
        --build-arg "REVISION=$revision" \
        --build-arg "SOURCE=$source_url" \
        --build-arg "DESCRIPTION=$(description_of "$name")" \
        --tag "$image" "$context" >/dev/null
done

[ -z "$stage_only" ] || exit 0
printf '\n%-45s %12s  %s\n' IMAGE BYTES USER
for name in $services; do
    image="istio-tutorial-rs/$name:$tag"
    printf '%-45s %12s  %s\n' "$image" \
        "$("$docker" image inspect --format '{{.Size}}' "$image")" \
        "$("$docker" image inspect --format '{{.Config.User}}' "$image")"
done
