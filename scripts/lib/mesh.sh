# shellcheck shell=sh
# shellcheck disable=SC2034 # MESH_KIND and friends are read by the scripts that source common.sh
# scripts/lib/mesh.sh - sourced by scripts/lib/common.sh: which OpenShift Service Mesh runs the cluster, how a
# namespace joins it, the in-cluster image builds and the stand-in time API. The answers parsed here are
# real oc output: `oc get smcp -A` / `oc get istio` with a jsonpath, NotFound errors on stderr.

# detect_mesh [ossm2|ossm3|auto]: set MESH_KIND (ossm2 or ossm3) and the control plane's name: SMCP_NAME and
# CONTROL_PLANE_NAMESPACE from `oc get smcp -A` (OSSM 2), or ISTIO_NAME from `oc get istio` (OSSM 3). Names
# set in the environment win; a dry run without them assumes the usual ones (basic / default).
detect_mesh() {
    MESH_KIND=${1:-auto}
    if [ "$DRY_RUN" = 1 ]; then
        [ "$MESH_KIND" != auto ] || MESH_KIND=ossm2
        : "${SMCP_NAME:=basic}" "${ISTIO_NAME:=default}"
        info "(dry run: mesh $MESH_KIND assumed; on a cluster it is read from oc get smcp -A / oc get istio)"
        return 0
    fi
    if [ "$MESH_KIND" != ossm3 ] && [ -z "${SMCP_NAME:-}" ]; then
        show_cmd "$KUBE_NAME" get smcp -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}'
        smcps=$("$KUBE" get smcp -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' 2>/dev/null) || smcps=
        first=$(printf '%s\n' "$smcps" | sed -n '/./{p;q;}')
        if [ -n "$first" ]; then
            CONTROL_PLANE_NAMESPACE=${first%% *}
            SMCP_NAME=${first#* }
            MESH_KIND=ossm2
            [ "$(printf '%s\n' "$smcps" | grep -c .)" = 1 ] ||
                info "(several control planes; using $SMCP_NAME in $CONTROL_PLANE_NAMESPACE: set SMCP_NAME and CONTROL_PLANE_NAMESPACE to pick another)"
        fi
    fi
    if [ "$MESH_KIND" = ossm2 ] && [ -n "${SMCP_NAME:-}" ]; then
        info "OpenShift Service Mesh 2: ServiceMeshControlPlane $SMCP_NAME in $CONTROL_PLANE_NAMESPACE"
        return 0
    fi
    if [ "$MESH_KIND" != ossm2 ] && [ -z "${ISTIO_NAME:-}" ]; then
        show_cmd "$KUBE_NAME" get istio -o 'jsonpath={.items[*].metadata.name}'
        istios=$("$KUBE" get istio -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null) || istios=
        ISTIO_NAME=${istios%% *}
    fi
    if [ "$MESH_KIND" != ossm2 ] && [ -n "${ISTIO_NAME:-}" ]; then
        MESH_KIND=ossm3
        info "OpenShift Service Mesh 3: Istio $ISTIO_NAME"
        return 0
    fi
    die "found no ServiceMeshControlPlane (OSSM 2: oc get smcp -A) and no Istio resource (OSSM 3: oc get istio). Fix: install OpenShift Service Mesh and its control plane (OSSM 3: kubernetes/ossm3/control-plane.yml), or name it: SMCP_NAME=<name> CONTROL_PLANE_NAMESPACE=<namespace>, or ISTIO_NAME=<name>."
}

# injection_label: the namespace label OSSM 3's webhook selects: the default revision's, or the named one's.
injection_label() {
    if [ "${ISTIO_NAME:-default}" = default ]; then
        printf 'istio-injection=enabled'
    else
        printf 'istio.io/rev=%s' "$ISTIO_NAME"
    fi
}

# enrol_namespace NAMESPACE: add the namespace to the mesh, the way its version wants, and wait for it.
enrol_namespace() {
    case $MESH_KIND in
        ossm2)
            # The member names the discovered control plane; the file is the one shipped for `basic`.
            printf '$ sed -e %s -e %s %s | %s apply -n %s -f -\n' \
                "'s/name: basic/name: $SMCP_NAME/'" "'s/namespace: istio-system/namespace: $CONTROL_PLANE_NAMESPACE/'" \
                "$F_SERVICE_MESH_MEMBER" "$KUBE_NAME" "$1"
            if [ "$DRY_RUN" != 1 ]; then
                sed -e "s/name: basic/name: $SMCP_NAME/" -e "s/namespace: istio-system/namespace: $CONTROL_PLANE_NAMESPACE/" \
                    "$F_SERVICE_MESH_MEMBER" | "$KUBE" apply -n "$1" -f - ||
                    die "cannot create the ServiceMeshMember in $1 (error above). It needs the mesh-user role on the control plane; its admin grants it: oc policy add-role-to-user mesh-user <you> --role-namespace $CONTROL_PLANE_NAMESPACE -n $CONTROL_PLANE_NAMESPACE"
            fi
            kube wait --for condition=Ready servicemeshmember/default -n "$1" "--timeout=$ROLLOUT_TIMEOUT" ||
                die "ServiceMeshMember default in $1 is not Ready: $KUBE_NAME describe servicemeshmember default -n $1 (is control plane $SMCP_NAME in $CONTROL_PLANE_NAMESPACE ready? oc get smcp -A)"
            ;;
        ossm3)
            kube label namespace "$1" "$(injection_label)" --overwrite ||
                die "cannot label namespace $1 (error above): labelling a namespace needs cluster rights (a cluster-admin runs: oc label namespace $1 $(injection_label))"
            ;;
    esac
}

# ensure_namespace NAMESPACE: create it when missing (a project on OpenShift).
ensure_namespace() {
    show_cmd "$KUBE_NAME" get namespace "$1"
    if [ "$DRY_RUN" = 1 ]; then
        info "(when missing: oc new-project $1 --skip-config-write, or kubectl create namespace $1)"
    elif "$KUBE" get namespace "$1" >/dev/null 2>&1; then
        info "exists"
    elif [ "$KUBE_NAME" = oc ]; then
        kube new-project "$1" --skip-config-write || die "cannot create project $1"
    else
        kube create namespace "$1" || die "cannot create namespace $1"
    fi
}

# build_image NAME NAMESPACE: make the ImageStreamTag NAME:$IMAGE_TAG exist unless it is there already:
# from the folder scripts/images.sh --stage-only stages (Containerfile + rootfs/), or with BUILD_FROM=source
# from the repository's committed files (container/Dockerfile compiles in the cluster: only oc needed here).
build_image() {
    show_cmd "$KUBE_NAME" get imagestreamtag "$1:$IMAGE_TAG" -n "$2"
    if [ "$DRY_RUN" != 1 ] && "$KUBE" get imagestreamtag "$1:$IMAGE_TAG" -n "$2" >/dev/null 2>&1; then
        info "built already (REBUILD=1 builds it again)"
        [ "${REBUILD:-0}" = 1 ] || return 0
    fi
    if [ "${BUILD_FROM:-staged}" = source ]; then
        kube patch buildconfig "$1" -n "$2" --type merge -p "$DOCKERFILE_FROM_SOURCE" ||
            die "cannot point BuildConfig $1 at container/Dockerfile (error above)"
        kube start-build "$1" --from-repo=. --follow --wait -n "$2" ||
            die "the in-cluster build of $1 from source failed (its log is above)"
        return 0
    fi
    if [ "$DRY_RUN" != 1 ] && [ ! -f "$D_IMAGE_STAGE/$1/Containerfile" ]; then
        die "$D_IMAGE_STAGE/$1 is not staged. Fix: sh scripts/images.sh --stage-only (builds the static binaries; no container engine needed), or BUILD_FROM=source (the cluster compiles; only oc needed), or IMAGE_PREFIX=<your registry>."
    fi
    kube start-build "$1" "--from-dir=$D_IMAGE_STAGE/$1" --follow --wait -n "$2" ||
        die "the in-cluster build of $1 failed (its log is above; again: oc start-build $1 --from-dir=$D_IMAGE_STAGE/$1 --follow -n $2)"
}

# The BuildConfigs build the staged folder's Containerfile; from source they build container/Dockerfile.
DOCKERFILE_FROM_SOURCE='{"spec":{"strategy":{"dockerStrategy":{"dockerfilePath":"container/Dockerfile"}}}}'

# pull_errors DEPLOYMENT APP VERSION: print "<pod> <reason>" for each container the kubelet cannot pull an
# image for (state.waiting.reason ErrImagePull / ImagePullBackOff / InvalidImageName); nothing otherwise.
pull_errors() {
    "$KUBE" get pods -n "$NAMESPACE" -l "app=$2,version=$3" \
        -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[*].state.waiting.reason}{"\n"}{end}' 2>/dev/null |
        grep -E ' (ErrImagePull|ImagePullBackOff|InvalidImageName)' || true
}

# time_api_ip: the stand-in time API's Service cluster IP (empty when it is not deployed).
time_api_ip() {
    "$KUBE" get service "$N_WORLDCLOCK_SERVICE" -n "$WORLDCLOCK_NAMESPACE" -o 'jsonpath={.spec.clusterIP}' 2>/dev/null || true
}
