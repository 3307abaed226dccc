#!/bin/sh
# deploy.sh - install the tutorial's app (customer -> preference -> recommendation v1) and its ingress
# route into a namespace, wait for it, check every pod has its sidecar (2/2), and print GATEWAY_URL.
set -eu

usage() {
    cat <<'EOF_USAGE'
Usage: sh scripts/deploy.sh [--with-v2] [--dry-run] [NAMESPACE]

Install into NAMESPACE (default $NAMESPACE or tutorial, created when missing):
  customer, preference v1, recommendation v1 (and v2 with --with-v2), their
  Services, and the ingress Gateway + VirtualService customer-gateway.
Then wait for each rollout (ROLLOUT_TIMEOUT, default 180s), report each pod's
READY (2/2 = app + sidecar; for a 1/1 pod it prints the oc patch that fixes
it), work out GATEWAY_URL and check the chain answers through it.

The namespace must be part of the mesh:
  OSSM 2: listed in the ServiceMeshMemberRoll "default" in istio-system
  OSSM 3: labelled, e.g. oc label namespace tutorial istio-injection=enabled

Options:
  --with-v2    also deploy recommendation v2
  --dry-run    print the commands only
  -h, --help   show this help
Environment: KUBECTL (oc, else kubectl), GATEWAY_URL (else the Route
istio-ingressgateway in istio-system: GATEWAY_ROUTE, GATEWAY_NAMESPACE),
ROLLOUT_TIMEOUT (180s), LAB_TIMEOUT (60 s to wait for the first answer),
IMAGE_PREFIX + IMAGE_TAG (when set: oc set image ... <container>=$IMAGE_PREFIX/<container>:$IMAGE_TAG,
e.g. IMAGE_PREFIX=quay.io/you; the manifests name istio-tutorial-rs/<service>:latest).
EOF_USAGE
}

WITH_V2=0
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --with-v2)
            WITH_V2=1
            shift
            ;;
        --dry-run)
            DRY_RUN=1
            shift
            ;;
        -?*)
            printf 'deploy.sh: unknown option %s (sh scripts/deploy.sh --help)\n' "$1" >&2
            exit 2
            ;;
        *) break ;;
    esac
done
if [ $# -gt 1 ]; then
    printf 'deploy.sh: too many arguments (sh scripts/deploy.sh --help)\n' >&2
    exit 2
fi
[ $# = 0 ] || NAMESPACE=$1

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"

detect_kube
[ "$DRY_RUN" = 1 ] || need_curl
check_login

say "Namespace $NAMESPACE"
show_cmd "$KUBE_NAME" get namespace "$NAMESPACE"
if [ "$DRY_RUN" = 1 ]; then
    info "(when missing: oc new-project $NAMESPACE --skip-config-write, or kubectl create namespace $NAMESPACE)"
elif "$KUBE" get namespace "$NAMESPACE" >/dev/null 2>&1; then
    info "exists"
elif [ "$KUBE_NAME" = oc ]; then
    kube new-project "$NAMESPACE" --skip-config-write || die "cannot create project $NAMESPACE"
else
    kube create namespace "$NAMESPACE" || die "cannot create namespace $NAMESPACE"
fi

say "Applying the app's manifests"
FILES="$F_CUSTOMER_DEPLOYMENT $F_CUSTOMER_SERVICE $F_PREFERENCE_DEPLOYMENT $F_PREFERENCE_SERVICE"
FILES="$FILES $F_RECOMMENDATION_DEPLOYMENT $F_RECOMMENDATION_SERVICE"
DEPLOYMENTS="customer:customer:v1 preference-v1:preference:v1 recommendation-v1:recommendation:v1"
if [ "$WITH_V2" = 1 ]; then
    FILES="$FILES $F_RECOMMENDATION_V2_DEPLOYMENT"
    DEPLOYMENTS="$DEPLOYMENTS recommendation-v2:recommendation:v2"
fi
FILES="$FILES $F_INGRESS_GATEWAY"
for f in $FILES; do
    kube apply -f "$f" -n "$NAMESPACE" || die "applying $f to $NAMESPACE failed (its error is above)"
done

for d in $DEPLOYMENTS; do
    dep=${d%%:*}
    rest=${d#*:}
    set_image "$dep" "${rest%%:*}" || die "setting the image of $dep failed"
done

say "Waiting for the rollouts (up to $ROLLOUT_TIMEOUT each)"
failed=0
for d in $DEPLOYMENTS; do
    wait_rollout "${d%%:*}" || failed=1
done

say "Pods: READY 2/2 means the app and its Envoy sidecar both run"
for d in $DEPLOYMENTS; do
    dep=${d%%:*}
    rest=${d#*:}
    check_sidecar "$dep" "${rest%%:*}" "${rest#*:}" || failed=1
done

say "Ingress gateway"
gateway_url
[ "$DRY_RUN" = 1 ] && exit 0
printf 'export GATEWAY_URL=%s\n' "$GATEWAY_URL"

show_cmd curl "$GATEWAY_URL"
if poll_gateway "$RE_CHAIN_OK"; then
    printf '%s\n' "$LAST_BODY"
else
    printf '%s\n' "$LAST_BODY"
    fail "no chain answer through $GATEWAY_URL within ${LAB_TIMEOUT}s"
    exit 1
fi
if [ "$failed" = 1 ]; then
    fail "the chain answers, but some pods are not 2/2 (see above): the mesh labs need every sidecar"
    exit 1
fi
pass "deployed in $NAMESPACE: every pod 2/2 and the chain answers through the gateway"
