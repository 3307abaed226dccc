#!/bin/sh
# deploy.sh - install the tutorial's app (customer -> preference -> recommendation v1) on OpenShift Service
# Mesh 2 or 3: find the mesh, enrol the namespace, build the images in the cluster, deploy the stand-in time
# API outside the mesh, the app and (OSSM 3) an ingress gateway; wait, check every app pod is 2/2, print
# GATEWAY_URL.
set -eu

usage() {
    cat <<'EOF_USAGE'
Usage: sh scripts/deploy.sh [--mesh ossm2|ossm3] [--with-v2] [--dry-run] [NAMESPACE]

Steps, each printed with its commands (a failing one stops with its fix):
  1. the mesh: OSSM 2 (oc get smcp -A; a user who may not list control
     planes goes on with SMCP_NAME/CONTROL_PLANE_NAMESPACE) or OSSM 3
     (oc get istio), or --mesh;
  2. NAMESPACE (default $NAMESPACE or tutorial), created when missing; OSSM 2:
     enrolled by a ServiceMeshMember for the control plane found (needs the
     mesh-user role);
  3. images: ImageStreams + BuildConfigs, then oc start-build of each image
     not built yet, from target/images/ (sh scripts/images.sh --stage-only
     stages them; no registry account needed), or with BUILD_FROM=source
     from the committed sources (the cluster compiles: only oc needed here);
     each build's wait is bounded (BUILD_TIMEOUT). BuildConfigs need oc;
     IMAGE_PREFIX skips this (then kubectl will do);
  4. OSSM 3: the default revision injects the pods that ask for a sidecar
     (sidecar.istio.io/inject=true, as the app's do), so NAMESPACE is not
     labelled and build pods stay without one (an istio-injection=enabled
     left by an earlier run is removed before the builds); a named revision
     (status.activeRevisionName) gets the label istio.io/rev=<revision>,
     set after the builds (needs rights to label namespaces);
  5. the stand-in time API in namespace worldclock, outside the mesh;
  6. the app's ServiceAccounts first, waiting for their registry pull secret
     (PULL_SECRET_TIMEOUT), then customer, preference v1, recommendation v1
     (and v2 with --with-v2), their Services, the Gateway + VirtualService
     customer-gateway, and on OSSM 3 the ingress gateway and its Route in
     istio-ingress. Each Deployment follows its ImageStreamTag
     (image.openshift.io/triggers): a new build rolls it out;
  7. each rollout (ROLLOUT_TIMEOUT, default 180s; image pull errors are named),
     each app pod's READY (2/2 = app + sidecar; 1/1 gets its fix printed),
     GATEWAY_URL, and the chain's answer through it.

Options:
  --mesh M     ossm2 or ossm3 instead of finding out
  --with-v2    also deploy recommendation v2
  --dry-run    print the commands only
  -h, --help   show this help
Environment: KUBECTL (oc, else kubectl), SMCP_NAME + CONTROL_PLANE_NAMESPACE
(OSSM 2) or ISTIO_NAME / ISTIO_REVISION (OSSM 3) instead of discovery,
GATEWAY_URL (else the Route istio-ingressgateway: GATEWAY_ROUTE,
GATEWAY_NAMESPACE), ROLLOUT_TIMEOUT (180s), BUILD_TIMEOUT (600s),
PULL_SECRET_TIMEOUT (60 s), LAB_TIMEOUT (60 s to wait for the first answer),
REBUILD=1 (build the images again), BUILD_FROM=source (container/Dockerfile
in the cluster), WORLDCLOCK_NAMESPACE (worldclock), IMAGE_PREFIX + IMAGE_TAG
(oc set image ... <container>=$IMAGE_PREFIX/<container>:$IMAGE_TAG instead of
building, e.g. IMAGE_PREFIX=quay.io/you; default tag 0.1.0).
EOF_USAGE
}

WITH_V2=0
MESH_ARG=auto
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
        --mesh)
            [ $# -ge 2 ] || {
                printf 'deploy.sh: --mesh needs ossm2 or ossm3 (sh scripts/deploy.sh --help)\n' >&2
                exit 2
            }
            MESH_ARG=$2
            shift 2
            ;;
        --mesh=*)
            MESH_ARG=${1#--mesh=}
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
case $MESH_ARG in
    auto | ossm2 | ossm3) ;;
    *)
        printf "deploy.sh: --mesh must be ossm2 or ossm3, not '%s' (sh scripts/deploy.sh --help)\n" "$MESH_ARG" >&2
        exit 2
        ;;
esac
if [ $# -gt 1 ]; then
    printf 'deploy.sh: too many arguments (sh scripts/deploy.sh --help)\n' >&2
    exit 2
fi
[ $# = 0 ] || NAMESPACE=$1

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"

detect_kube
# BuildConfigs and `start-build` are OpenShift's: kubectl has no such command, so a dry run would print
# commands that cannot be pasted.
[ -n "$IMAGE_PREFIX" ] || [ "$KUBE_NAME" = oc ] ||
    die "the in-cluster builds need OpenShift's oc (BuildConfigs, oc start-build; $KUBE_NAME has no start-build). Fix: install oc (web console: ? > Command line tools), or push the images to a registry and set IMAGE_PREFIX=<registry>/<you>."
[ "$DRY_RUN" = 1 ] || need_curl
check_login

say "Service Mesh"
detect_mesh "$MESH_ARG"

if [ "$MESH_KIND" = ossm2 ]; then
    say "Namespace $NAMESPACE, enrolled in the mesh"
else
    say "Namespace $NAMESPACE"
fi
ensure_namespace "$NAMESPACE"
# OSSM 3: the default revision needs no label (a stale one goes before the builds); a named revision's label
# comes after the builds, so that no build pod gets a sidecar.
ENROL_AFTER_BUILDS=0
if [ "$MESH_KIND" = ossm2 ]; then
    enrol_namespace "$NAMESPACE"
else
    istio_revision
    if [ "$(injection_label)" = istio-injection=enabled ]; then
        enrol_namespace "$NAMESPACE"
    else
        ENROL_AFTER_BUILDS=1
    fi
fi

if [ -n "$IMAGE_PREFIX" ]; then
    say "Images: from $IMAGE_PREFIX (IMAGE_PREFIX), no in-cluster build"
else
    say "Images: built in the cluster from $D_IMAGE_STAGE (ImageStreams with local lookup, binary builds; each waited for up to $BUILD_TIMEOUT)"
    kube apply -f "$F_IMAGE_BUILDS" -n "$NAMESPACE" || die "applying $F_IMAGE_BUILDS to $NAMESPACE failed (its error is above)"
    for image in customer preference recommendation; do
        build_image "$image" "$NAMESPACE"
    done
fi

if [ "$ENROL_AFTER_BUILDS" = 1 ]; then
    say "Namespace $NAMESPACE in the mesh of revision $ISTIO_REVISION (after the builds: a build pod must not get a sidecar)"
    enrol_namespace "$NAMESPACE"
fi

say "The stand-in time API (namespace $WORLDCLOCK_NAMESPACE, outside the mesh): $WORLDCLOCK_HOST for recommendation v3"
ensure_namespace "$WORLDCLOCK_NAMESPACE"
[ -n "$IMAGE_PREFIX" ] || ensure_service_accounts "$WORLDCLOCK_NAMESPACE" "$N_WORLDCLOCK_ACCOUNT"
kube apply -f "$F_WORLDCLOCK_STANDIN" -n "$WORLDCLOCK_NAMESPACE" ||
    die "applying $F_WORLDCLOCK_STANDIN to $WORLDCLOCK_NAMESPACE failed (its error is above)"
if [ -n "$IMAGE_PREFIX" ]; then
    kube annotate "deployment/$N_WORLDCLOCK_DEPLOYMENT" "$TRIGGERS_ANNOTATION-" -n "$WORLDCLOCK_NAMESPACE" ||
        die "removing the image trigger of $N_WORLDCLOCK_DEPLOYMENT failed"
    kube set image "deployment/$N_WORLDCLOCK_DEPLOYMENT" "worldclock=$IMAGE_PREFIX/worldclock-standin:$IMAGE_TAG" -n "$WORLDCLOCK_NAMESPACE" ||
        die "setting the image of $N_WORLDCLOCK_DEPLOYMENT failed"
else
    build_image worldclock-standin "$WORLDCLOCK_NAMESPACE"
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
[ -n "$IMAGE_PREFIX" ] || ensure_service_accounts "$NAMESPACE" customer preference recommendation
for f in $FILES; do
    kube apply -f "$f" -n "$NAMESPACE" || die "applying $f to $NAMESPACE failed (its error is above)"
done

for d in $DEPLOYMENTS; do
    dep=${d%%:*}
    rest=${d#*:}
    set_image "$dep" "${rest%%:*}" || die "setting the image of $dep failed"
done

if [ "$MESH_KIND" = ossm3 ]; then
    say "Ingress gateway for OSSM 3 (it installs none): $N_OSSM3_GATEWAY in $N_OSSM3_GATEWAY_NAMESPACE, and its Route"
    ensure_namespace "$N_OSSM3_GATEWAY_NAMESPACE"
    enrol_namespace "$N_OSSM3_GATEWAY_NAMESPACE"
    kube apply -f "$F_OSSM3_INGRESS_GATEWAY" || die "applying $F_OSSM3_INGRESS_GATEWAY failed (its error is above)"
    [ -n "$GATEWAY_NAMESPACE_GIVEN" ] || GATEWAY_NAMESPACE=$N_OSSM3_GATEWAY_NAMESPACE
fi

say "Waiting for the rollouts (up to $ROLLOUT_TIMEOUT each)"
failed=0
kube rollout status "deployment/$N_WORLDCLOCK_DEPLOYMENT" -n "$WORLDCLOCK_NAMESPACE" "--timeout=$ROLLOUT_TIMEOUT" || {
    fail "the stand-in time API ($N_WORLDCLOCK_DEPLOYMENT in $WORLDCLOCK_NAMESPACE) is not running: recommendation v3 would show errors instead of the time. Look: $KUBE_NAME get pods -n $WORLDCLOCK_NAMESPACE"
    failed=1
}
for d in $DEPLOYMENTS; do
    dep=${d%%:*}
    rest=${d#*:}
    wait_rollout "$dep" "${rest%%:*}" "${rest#*:}" || failed=1
done
if [ "$MESH_KIND" = ossm3 ]; then
    kube rollout status "deployment/$N_OSSM3_GATEWAY" -n "$N_OSSM3_GATEWAY_NAMESPACE" "--timeout=$ROLLOUT_TIMEOUT" || {
        fail "the ingress gateway $N_OSSM3_GATEWAY in $N_OSSM3_GATEWAY_NAMESPACE is not running (its pod is the proxy alone: READY 1/1 when well)"
        failed=1
    }
fi

say "App pods: READY 2/2 means the app and its Envoy sidecar both run"
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
    fail "the chain answers, but something above is not right (see the ✘ lines): the mesh labs need every sidecar and the time API"
    exit 1
fi
pass "deployed in $NAMESPACE on $MESH_KIND: every app pod 2/2, the time API up, and the chain answers through the gateway"
