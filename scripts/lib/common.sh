# shellcheck shell=sh
# The names and patterns below are used by the scripts that source this file:
# shellcheck disable=SC2034
# scripts/lib/common.sh - sourced by deploy.sh, egress-lab.sh and clean.sh (not run on its own); it sources lib/mesh.sh.
#
# The ONE place that names repository files and cluster objects: a rename is a one-line change here
# (integration-tests/scripts checks that every file listed by lab_files exists in the repository).
# Callers set SCRIPT_DIR before sourcing; everything runs from the repository root.

# ---------------------------------------------------------------------------------------------------
# Repository files (paths relative to the repository root).
F_CUSTOMER_DEPLOYMENT=customer/kubernetes/Deployment.yml
F_CUSTOMER_SERVICE=customer/kubernetes/Service.yml
F_PREFERENCE_DEPLOYMENT=preference/kubernetes/Deployment.yml
F_PREFERENCE_SERVICE=preference/kubernetes/Service.yml
F_RECOMMENDATION_DEPLOYMENT=recommendation/kubernetes/Deployment.yml
F_RECOMMENDATION_V2_DEPLOYMENT=recommendation/kubernetes/Deployment-v2.yml
F_RECOMMENDATION_SERVICE=recommendation/kubernetes/Service.yml
# The lab applies v3 from inside recommendation/, exactly as the tutorial's text does.
D_RECOMMENDATION=recommendation
F_RECOMMENDATION_V3_IN_DIR=kubernetes/Deployment-v3.yml
F_INGRESS_GATEWAY=kubernetes/app/customer-gateway.yml
F_SERVICE_MESH_MEMBER=kubernetes/ossm2/service-mesh-member.yml
F_OSSM3_INGRESS_GATEWAY=kubernetes/ossm3/ingress-gateway.yml
F_IMAGE_BUILDS=kubernetes/images/builds.yml
F_WORLDCLOCK_STANDIN=kubernetes/worldclock/standin.yml
F_DR_RECOMMENDATION=istio/destination-rule-recommendation-v1-v2-v3.yml
F_VS_RECOMMENDATION_V3=istio/virtual-service-recommendation-v3.yml
F_SE_WORLDCLOCK_WRONG_PORT=istio/service-entry-egress-worldclockapi-wrong-port.yml
F_SE_WORLDCLOCK=istio/service-entry-egress-worldclockapi.yml
F_VS_WORLDCLOCK_TIMEOUT=istio/virtual-service-worldclockapi-timeout.yml
# REGISTRY_ONLY switches (egress lab step 10) and their reverts.
F_REGISTRY_ONLY_OSSM2=istio/registry-only-ossm2-smcp-patch.yml
F_ALLOW_ANY_OSSM2=istio/allow-any-ossm2-smcp-patch.yml
F_REGISTRY_ONLY_OSSM3=istio/registry-only-ossm3-istio-patch.yml
F_ALLOW_ANY_OSSM3=istio/allow-any-ossm3-istio-patch.yml
F_REGISTRY_ONLY_SIDECAR=istio/sidecar-registry-only.yml
F_ALLOW_ANY_SIDECAR=istio/sidecar-allow-any.yml

# Every repository file the scripts use, one per line.
lab_files() {
    printf '%s\n' "$F_CUSTOMER_DEPLOYMENT" "$F_CUSTOMER_SERVICE" \
        "$F_PREFERENCE_DEPLOYMENT" "$F_PREFERENCE_SERVICE" \
        "$F_RECOMMENDATION_DEPLOYMENT" "$F_RECOMMENDATION_V2_DEPLOYMENT" "$F_RECOMMENDATION_SERVICE" \
        "$D_RECOMMENDATION/$F_RECOMMENDATION_V3_IN_DIR" "$F_INGRESS_GATEWAY" \
        "$F_SERVICE_MESH_MEMBER" "$F_OSSM3_INGRESS_GATEWAY" "$F_IMAGE_BUILDS" "$F_WORLDCLOCK_STANDIN" \
        "$F_DR_RECOMMENDATION" "$F_VS_RECOMMENDATION_V3" \
        "$F_SE_WORLDCLOCK_WRONG_PORT" "$F_SE_WORLDCLOCK" "$F_VS_WORLDCLOCK_TIMEOUT" \
        "$F_REGISTRY_ONLY_OSSM2" "$F_ALLOW_ANY_OSSM2" "$F_REGISTRY_ONLY_OSSM3" "$F_ALLOW_ANY_OSSM3" \
        "$F_REGISTRY_ONLY_SIDECAR" "$F_ALLOW_ANY_SIDECAR"
}

# Where scripts/images.sh --stage-only leaves the build folders (Containerfile + rootfs/) of the images.
D_IMAGE_STAGE=${CARGO_TARGET_DIR:-target}/images

# Cluster object names (docs/EGRESS-LAB-OPENSHIFT.md).
N_SERVICE_ENTRY=worldclockapi-egress-rule
N_VS_WORLDCLOCK=worldclockapi-timeout
N_RECOMMENDATION=recommendation
N_V3_DEPLOYMENT=recommendation-v3
N_INGRESS_VS=customer-gateway
N_OSSM3_GATEWAY=istio-ingressgateway
N_OSSM3_GATEWAY_NAMESPACE=istio-ingress
N_WORLDCLOCK_SERVICE=worldclock
N_WORLDCLOCK_DEPLOYMENT=worldclock
N_WORLDCLOCK_ACCOUNT=worldclock
# The time API's host, as recommendation v3's WORLDCLOCK_URL and the egress lab's files name it.
WORLDCLOCK_HOST=worldclockapi.com
WORLDCLOCK_PATH=/api/json/cet/now
# The label that asks for a sidecar (a label: OSSM 3's webhook selects pods by it; OSSM 2 reads it too).
INJECT_LABEL=sidecar.istio.io/inject
# The annotation by which OpenShift's image trigger controller points a Deployment's container at an
# ImageStreamTag's current image (and rolls it when a build moves the tag).
TRIGGERS_ANNOTATION=image.openshift.io/triggers

# ---------------------------------------------------------------------------------------------------
# Settings (environment overrides these defaults).
: "${NAMESPACE:=tutorial}"
: "${CONTROL_PLANE_NAMESPACE:=istio-system}"
GATEWAY_NAMESPACE_GIVEN=${GATEWAY_NAMESPACE:+1}
: "${GATEWAY_NAMESPACE:=istio-system}"
: "${GATEWAY_ROUTE:=istio-ingressgateway}"
: "${WORLDCLOCK_NAMESPACE:=worldclock}"
: "${ROLLOUT_TIMEOUT:=180s}"
: "${BUILD_TIMEOUT:=600s}"
: "${PULL_SECRET_TIMEOUT:=60}"
: "${LAB_TIMEOUT:=60}"
: "${LAB_INTERVAL:=2}"
: "${LAB_COUNT:=10}"
: "${DRY_RUN:=0}"
: "${IMAGE_PREFIX:=}"
: "${IMAGE_TAG:=0.1.0}"

# The lab's expected answers (extended regular expressions, one answer line each).
RE_CHAIN_OK="^customer => preference => recommendation v[0-9]+ (.* )?from '[^']*': [0-9]+\$"
RE_V3_OK="^customer => preference => recommendation v3 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}) from '[^']*': [0-9]+\$"
RE_EGRESS_FAILS="^customer => Error: 503 - preference => Error: 500 - "

# ---------------------------------------------------------------------------------------------------
# Output helpers.
PROG=${0##*/}

die() {
    printf '%s: %s\n' "$PROG" "$1" >&2
    exit "${2:-1}"
}

say() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
pass() { printf '\342\234\224 %s\n' "$*"; }
fail() { printf '\342\234\230 %s\n' "$*"; }

# Quote one argument so a printed command can be pasted back into a shell.
# key=value keeps its key bare: jsonpath='{.spec.host}', --timeout=180s.
shell_quote() {
    case $1 in
        '') printf "''" ;;
        '$'[A-Z_]*)
            # a variable the reader sets, printed as the lab text writes it: $GATEWAY_URL
            case ${1#?} in
                *[!A-Z_]*) ;;
                *)
                    printf '%s' "$1"
                    return
                    ;;
            esac
            ;;
    esac
    case $1 in
        *[!A-Za-z0-9_./:=,@%+-]*)
            case $1 in
                [A-Za-z-]*=*)
                    key=${1%%=*}
                    case $key in
                        *[!A-Za-z0-9_-]*) ;;
                        *)
                            printf '%s=' "$key"
                            shell_quote "${1#*=}"
                            return
                            ;;
                    esac
                    ;;
            esac
            printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
            ;;
        *) printf '%s' "$1" ;;
    esac
}

# show_cmd ARG...: print "$ cmd args" the way a trainer would type it.
show_cmd() {
    line='$'
    for a in "$@"; do
        line="$line $(shell_quote "$a")"
    done
    printf '%s\n' "$line"
}

# run ARG...: print the command, then run it (not with --dry-run).
run() {
    show_cmd "$@"
    [ "$DRY_RUN" = 1 ] && return 0
    "$@"
}

# kube ARG...: run the cluster CLI (oc or kubectl).
kube() { run "$KUBE" "$@"; }

# ---------------------------------------------------------------------------------------------------
# Prerequisites.

# detect_kube: set KUBE from $KUBECTL, else oc, else kubectl.
detect_kube() {
    if [ -n "${KUBECTL:-}" ]; then
        command -v "$KUBECTL" >/dev/null 2>&1 ||
            die "KUBECTL=$KUBECTL: command not found. Fix: point KUBECTL at oc or kubectl, or unset it to use the one on PATH." 127
        KUBE=$KUBECTL
    elif command -v oc >/dev/null 2>&1; then
        KUBE=oc
    elif command -v kubectl >/dev/null 2>&1; then
        KUBE=kubectl
    elif [ "$DRY_RUN" = 1 ]; then
        KUBE=oc
    else
        die "neither oc nor kubectl found on PATH. Fix: install the OpenShift CLI (oc) from your cluster's web console (? > Command line tools), or set KUBECTL=/path/to/kubectl." 127
    fi
    KUBE_NAME=${KUBE##*/}
}

# check_login: fail fast, with the fix, when the CLI cannot talk to the cluster.
check_login() {
    [ "$DRY_RUN" = 1 ] && return 0
    case $KUBE_NAME in
        oc)
            if ! who=$("$KUBE" whoami 2>&1); then
                die "not logged in to a cluster ($KUBE whoami: $who). Fix: oc login --server=https://api.<cluster>:6443 --token=<token> (web console: your user name > Copy login command)."
            fi
            info "$KUBE_NAME: logged in as $who"
            ;;
        *)
            if ! answer=$("$KUBE" auth can-i get pods -n "$NAMESPACE" 2>&1); then
                die "$KUBE_NAME cannot read pods in namespace $NAMESPACE ($KUBE auth can-i get pods -n $NAMESPACE: $answer). Fix: check your kubeconfig (kubectl config current-context) and your rights."
            fi
            ;;
    esac
}

# ---------------------------------------------------------------------------------------------------
# The ingress gateway's URL: $GATEWAY_URL, else the OpenShift Route's host. Sets GATEWAY_URL (as the
# user knows it) and GATEWAY_HTTP (with a scheme, for curl).
gateway_url() {
    if [ -z "${GATEWAY_URL:-}" ]; then
        route_host "$GATEWAY_NAMESPACE"
        if [ -z "$GATEWAY_URL" ] && [ -z "$GATEWAY_NAMESPACE_GIVEN" ]; then
            info "(no Route there; OpenShift Service Mesh 3 puts the injected gateway in istio-ingress)"
            route_host istio-ingress
        fi
        [ -n "$GATEWAY_URL" ] ||
            die "no host on Route $GATEWAY_ROUTE in $GATEWAY_NAMESPACE. Fix: export GATEWAY_URL=<ingress host>, or GATEWAY_NAMESPACE=<namespace of the gateway's Route> (and GATEWAY_ROUTE=<its name>)."
    fi
    case $GATEWAY_URL in
        http://* | https://*) GATEWAY_HTTP=$GATEWAY_URL ;;
        *) GATEWAY_HTTP="http://$GATEWAY_URL" ;;
    esac
}

# route_host NAMESPACE: set GATEWAY_URL to the host of the gateway's Route in NAMESPACE (empty if none).
route_host() {
    printf "\$ GATEWAY_URL=\$(%s -n %s get route %s -o jsonpath='{.spec.host}')\n" \
        "$KUBE_NAME" "$1" "$GATEWAY_ROUTE"
    if [ "$DRY_RUN" = 1 ]; then
        GATEWAY_URL=\$GATEWAY_URL
    else
        GATEWAY_URL=$("$KUBE" -n "$1" get route "$GATEWAY_ROUTE" -o 'jsonpath={.spec.host}' 2>/dev/null) || GATEWAY_URL=
    fi
}

# set_image DEPLOYMENT CONTAINER: with IMAGE_PREFIX set, point the container at $IMAGE_PREFIX/<container>:$IMAGE_TAG
# (the manifests name <service>:0.1.0, built in the cluster; kubernetes/app/kustomization.yaml is the other way).
# The image trigger (annotation image.openshift.io/triggers) goes first: it would put the ImageStreamTag back.
set_image() {
    [ -n "$IMAGE_PREFIX" ] || return 0
    kube annotate "deployment/$1" "$TRIGGERS_ANNOTATION-" -n "$NAMESPACE" &&
        kube set image "deployment/$1" "$2=$IMAGE_PREFIX/$2:$IMAGE_TAG" -n "$NAMESPACE"
}

need_curl() {
    command -v curl >/dev/null 2>&1 ||
        die "curl not found on PATH. Fix: install it (Fedora/RHEL: sudo dnf install curl; Debian/Ubuntu: sudo apt-get install curl)." 127
}

# poll_gateway REGEX: ask the gateway until one answer matches REGEX, for up to LAB_TIMEOUT seconds
# (mesh configuration takes a few seconds to reach the proxies). Leaves the last answer in LAST_BODY.
poll_gateway() {
    attempts=$(((LAB_TIMEOUT + LAB_INTERVAL - 1) / LAB_INTERVAL))
    [ "$attempts" -ge 1 ] || attempts=1
    info "(asking $GATEWAY_HTTP every ${LAB_INTERVAL}s, for up to ${LAB_TIMEOUT}s, until the answer matches)"
    n=0
    while :; do
        n=$((n + 1))
        LAST_BODY=$(curl -sS --max-time 30 "$GATEWAY_HTTP" 2>&1) || true
        if printf '%s\n' "$LAST_BODY" | grep -Eq -- "$1"; then
            return 0
        fi
        [ "$n" -lt "$attempts" ] || return 1
        sleep "$LAB_INTERVAL"
    done
}

# check_sidecar DEPLOYMENT APP VERSION: report each pod's READY; 2/2 means the sidecar is there. Pods
# still Terminating after a rollout are listed but not counted. A 1/1 pod has no sidecar: print the exact
# fix (the label when the template lacks it, else enrolment and a restart). Returns 1 unless every counted
# pod is ready with a sidecar.
check_sidecar() {
    dep=$1
    selector="app=$2,version=$3"
    show_cmd "$KUBE_NAME" get pods -n "$NAMESPACE" -l "$selector"
    [ "$DRY_RUN" = 1 ] && return 0
    pods=$("$KUBE" get pods -n "$NAMESPACE" -l "$selector" --no-headers 2>&1) || {
        fail "$dep: cannot list its pods: $pods"
        return 1
    }
    ok=0
    seen=0
    while read -r pod ready status _rest; do
        [ -n "$pod" ] || continue
        case $pod in No | no) continue ;; esac # "No resources found ..."
        if [ "$status" = Terminating ]; then
            info "$pod READY $ready (Terminating): the previous pod, going away; not counted."
            continue
        fi
        seen=$((seen + 1))
        running=${ready%/*}
        total=${ready#*/}
        case $status in
            ErrImagePull | ImagePullBackOff | InvalidImageName)
                fail "$pod READY $ready ($status): the cluster cannot pull its image."
                image_hint
                ok=1
                continue
                ;;
        esac
        if [ "$total" = 1 ]; then
            fail "$pod READY $ready ($status): no sidecar, so the mesh cannot see or control its traffic."
            sidecar_fix "$dep"
            ok=1
        elif [ "$running" != "$total" ]; then
            fail "$pod READY $ready ($status): not ready yet."
            ok=1
        else
            pass "$pod READY $ready ($status): app and sidecar running."
        fi
    done <<EOF
$pods
EOF
    if [ "$seen" = 0 ]; then
        fail "$dep: no pods with labels $selector in namespace $NAMESPACE."
        return 1
    fi
    return "$ok"
}

# sidecar_fix DEPLOYMENT: the fix for a pod without sidecar. A template that does not ask gets the request
# (the pods restart 2/2); a template that asks already means the namespace is not (yet) in the mesh.
sidecar_fix() {
    if ! template_asks_for_sidecar "$1"; then
        info "Fix: add the injection ${SIDECAR_REQUEST%s}; the pod restarts with 2/2:"
        info "  $KUBE_NAME patch deployment $1 -n $NAMESPACE -p '$(request_patch)'"
    else
        info "Its template asks for a sidecar already, so namespace $NAMESPACE was not in the mesh when the pod started. Fix:"
        info "  OSSM 2: oc apply -f $F_SERVICE_MESH_MEMBER -n $NAMESPACE (a ServiceMeshMember; sh scripts/deploy.sh does it)"
        info "  OSSM 3: the default revision injects it without namespace label unless the namespace says istio-injection=disabled;"
        info "    a named revision needs oc label namespace $NAMESPACE istio.io/rev=<revision> (oc get istio -o jsonpath='{.items[*].status.activeRevisionName}');"
        info "    labelling the namespace (oc label namespace $NAMESPACE istio-injection=enabled) also injects build pods, whose builds then never finish"
        info "  then: $KUBE_NAME rollout restart deployment/$1 -n $NAMESPACE"
    fi
}

# How a pod template asks for a sidecar: by the inject label (OSSM 3's webhook selects pods by it; OSSM 2
# reads it too), or, with SIDECAR_REQUEST=annotations (egress-lab.sh on OSSM 2, as the egress blog patches
# it), by the annotation of the same name, which the injector reads when the label is absent (istio's
# pkg/kube/inject/inject.go injectRequired: the label wins).
SIDECAR_REQUEST=labels

# template_asks_for_sidecar DEPLOYMENT: does its pod template ask for a sidecar ("true")?
template_asks_for_sidecar() {
    asks=$(template_inject labels "$1")
    [ -n "$asks" ] || [ "$SIDECAR_REQUEST" != annotations ] || asks=$(template_inject annotations "$1")
    [ "$asks" = true ]
}

# template_inject labels|annotations DEPLOYMENT: the pod template's inject label or annotation, empty when unset.
template_inject() {
    "$KUBE" get deployment "$2" -n "$NAMESPACE" -o "jsonpath={.spec.template.metadata.$1.sidecar\\.istio\\.io/inject}" 2>/dev/null || true
}

# request_patch: the merge patch that asks for a sidecar the SIDECAR_REQUEST way.
request_patch() {
    printf '{"spec":{"template":{"metadata":{"%s":{"%s":"true"}}}}}' "$SIDECAR_REQUEST" "$INJECT_LABEL"
}

# inject_patch true|false: the merge patch that sets the pod template's inject label.
inject_patch() {
    printf '{"spec":{"template":{"metadata":{"labels":{"%s":"%s"}}}}}' "$INJECT_LABEL" "$1"
}

# image_hint: what to do when the cluster cannot pull an app image.
image_hint() {
    info "Fix: build the images in the cluster (sh scripts/deploy.sh does: ImageStreams + oc start-build, see $F_IMAGE_BUILDS),"
    info "  or point the Deployments at a registry you pushed to: IMAGE_PREFIX=quay.io/you sh scripts/deploy.sh"
    info "  A pod admitted before its ServiceAccount had its registry pull secret never pulls from the internal registry (the secret"
    info "  is copied into the pod when it is created): $KUBE_NAME get serviceaccount <account> -n $NAMESPACE -o jsonpath='{.imagePullSecrets[*].name}'"
    info "  names a *-dockercfg-* secret? Then delete the pod (its Deployment makes a new one that has it): $KUBE_NAME delete pod <pod> -n $NAMESPACE"
}

# wait_rollout DEPLOYMENT [APP VERSION]: wait for the deployment's rollout, bounded by ROLLOUT_TIMEOUT. When
# it does not finish, a pod the kubelet cannot pull an image for is reported as such, not as a timeout.
wait_rollout() {
    kube rollout status "deployment/$1" -n "$NAMESPACE" "--timeout=$ROLLOUT_TIMEOUT" && return 0
    pulls=
    [ $# -lt 3 ] || pulls=$(pull_errors "$1" "$2" "$3")
    if [ -n "$pulls" ]; then
        printf '%s\n' "$pulls" | while read -r pod reason; do
            fail "deployment $1: pod $pod cannot pull its image ($reason)."
        done
        image_hint
    else
        fail "deployment $1 not rolled out within $ROLLOUT_TIMEOUT. Look: $KUBE_NAME get pods -n $NAMESPACE; $KUBE_NAME get events -n $NAMESPACE --sort-by=.lastTimestamp"
    fi
    return 1
}

# shellcheck source-path=SCRIPTDIR source=mesh.sh
. "$SCRIPT_DIR/lib/mesh.sh"

# Run from the repository root so the relative file names above resolve.
REPO_ROOT=$(CDPATH='' cd -- "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT" || exit 1
