# shellcheck shell=sh
# shellcheck disable=SC2034 # MESH_KIND and friends are read by the scripts that source common.sh
# scripts/lib/mesh.sh - sourced by scripts/lib/common.sh: which OpenShift Service Mesh runs the cluster, how a
# namespace joins it, the in-cluster image builds and the stand-in time API. The answers parsed here are
# real oc output: `oc get smcp -A` / `oc get istio` with a jsonpath, NotFound errors on stderr.

# detect_mesh [ossm2|ossm3|auto]: set MESH_KIND (ossm2 or ossm3) and the control plane's name: SMCP_NAME and
# CONTROL_PLANE_NAMESPACE from `oc get smcp -A` (OSSM 2), or ISTIO_NAME from `oc get istio` (OSSM 3). Names
# set in the environment win; a dry run without them assumes the usual ones (basic / default). A user who
# may not list control planes (maistra's mesh-user role is namespaced) is told so, and the script goes on
# with SMCP_NAME and CONTROL_PLANE_NAMESPACE (basic in istio-system unless set).
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
        if smcps=$("$KUBE" get smcp -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' 2>&1); then
            first=$(printf '%s\n' "$smcps" | sed -n '/./{p;q;}')
        else
            first=
            case $smcps in
                *Forbidden*)
                    # The CRD is there (else: "doesn't have a resource type"), so this is OSSM 2.
                    fail "you may not list ServiceMeshControlPlanes cluster-wide: $smcps"
                    info "(maistra's mesh-user role lets you use one control plane, not list them.) Going on with SMCP_NAME=${SMCP_NAME:-basic} CONTROL_PLANE_NAMESPACE=$CONTROL_PLANE_NAMESPACE; if yours differs, set both (your mesh admin knows them) and run again."
                    first="$CONTROL_PLANE_NAMESPACE ${SMCP_NAME:-basic}"
                    ;;
            esac
        fi
        if [ -n "$first" ]; then
            CONTROL_PLANE_NAMESPACE=${first%% *}
            SMCP_NAME=${first#* }
            MESH_KIND=ossm2
            [ "$(printf '%s\n' "$smcps" | grep -c .)" = 1 ] || case $smcps in
                *Forbidden*) ;;
                *) info "(several control planes; using $SMCP_NAME in $CONTROL_PLANE_NAMESPACE: set SMCP_NAME and CONTROL_PLANE_NAMESPACE to pick another)" ;;
            esac
        fi
    fi
    # A control plane named in the environment (SMCP_NAME) is an OSSM 2 one, whether or not --mesh said so.
    if [ "$MESH_KIND" != ossm3 ] && [ -n "${SMCP_NAME:-}" ]; then
        MESH_KIND=ossm2
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

# istio_revision: set ISTIO_REVISION (unless set) to the Istio's status.activeRevisionName: with the InPlace
# strategy the revision is the resource's name, with RevisionBased it is <name>-<version>
# (sail-operator's Istio status); the injection webhook selects by the revision, not the resource.
istio_revision() {
    [ -z "${ISTIO_REVISION:-}" ] || return 0
    show_cmd "$KUBE_NAME" get istio "$ISTIO_NAME" -o 'jsonpath={.status.activeRevisionName}'
    if [ "$DRY_RUN" = 1 ]; then
        ISTIO_REVISION=$ISTIO_NAME
        return 0
    fi
    ISTIO_REVISION=$("$KUBE" get istio "$ISTIO_NAME" -o 'jsonpath={.status.activeRevisionName}' 2>/dev/null) || ISTIO_REVISION=
    [ -n "$ISTIO_REVISION" ] || ISTIO_REVISION=$ISTIO_NAME
    info "active revision: $ISTIO_REVISION"
}

# injection_label: the namespace label OSSM 3's webhook selects: the default revision's, or the named one's.
injection_label() {
    if [ "${ISTIO_REVISION:-${ISTIO_NAME:-default}}" = default ]; then
        printf 'istio-injection=enabled'
    else
        printf 'istio.io/rev=%s' "${ISTIO_REVISION:-$ISTIO_NAME}"
    fi
}

# enrol_namespace NAMESPACE: add the namespace to the mesh, the way its version wants, and wait for it.
# OSSM 3 never labels a namespace whose pods the default revision injects anyway: Istio's webhook
# (istio/istio manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml, the `object`
# webhook of the default revision, rendered for sail-operator's revision named default) injects every pod labelled sidecar.istio.io/inject=true in a namespace
# without injection label, which the app's and the gateway's pod templates carry and OpenShift's build pods
# (label openshift.io/build.name) do not. A namespace label would inject the build pods too: their proxy is
# an ordinary container unless native sidecars are on, so the build pod never ends and the Build stays
# Running. A named revision needs the namespace label istio.io/rev=<revision>: deploy.sh sets it after the
# builds, and a later build there needs the control plane's neverInjectSelector (kubernetes/ossm3/control-plane.yml).
enrol_namespace() {
    case $MESH_KIND in
        ossm2)
            if [ "$SMCP_NAME" = basic ] && [ "$CONTROL_PLANE_NAMESPACE" = istio-system ]; then
                # The shipped file names basic in istio-system already.
                kube apply -f "$F_SERVICE_MESH_MEMBER" -n "$1" || member_refused "$1"
            else
                # The member names the discovered control plane; the file is the one shipped for `basic`.
                set -- "$1"
                [ "$SMCP_NAME" = basic ] || set -- "$@" -e "s/name: basic/name: $SMCP_NAME/"
                [ "$CONTROL_PLANE_NAMESPACE" = istio-system ] ||
                    set -- "$@" -e "s/namespace: istio-system/namespace: $CONTROL_PLANE_NAMESPACE/"
                ns=$1
                shift
                printf '%s %s | %s apply -n %s -f -\n' "$(show_cmd sed "$@")" "$F_SERVICE_MESH_MEMBER" "$KUBE_NAME" "$ns"
                if [ "$DRY_RUN" != 1 ]; then
                    sed "$@" "$F_SERVICE_MESH_MEMBER" | "$KUBE" apply -n "$ns" -f - || member_refused "$ns"
                fi
                set -- "$ns"
            fi
            kube wait --for condition=Ready servicemeshmember/default -n "$1" "--timeout=$ROLLOUT_TIMEOUT" ||
                die "ServiceMeshMember default in $1 is not Ready: $KUBE_NAME describe servicemeshmember default -n $1 (is control plane $SMCP_NAME in $CONTROL_PLANE_NAMESPACE ready? oc get smcp -A)"
            ;;
        ossm3)
            istio_revision
            if [ "$(injection_label)" = istio-injection=enabled ]; then
                info "$1 needs no namespace label: the default revision injects each pod labelled $INJECT_LABEL=true (the app's and the gateway's are); build pods (openshift.io/build.name) are not, so builds finish"
                # Only the namespace the builds run in loses a label an earlier run set; others are left alone.
                [ "$1" = "$NAMESPACE" ] || return 0
                show_cmd "$KUBE_NAME" get namespace "$1" -o 'jsonpath={.metadata.labels}'
                [ "$DRY_RUN" = 1 ] && return 0
                labels=$("$KUBE" get namespace "$1" -o 'jsonpath={.metadata.labels}' 2>/dev/null) || labels=
                case $labels in
                    *'"istio-injection":"enabled"'*)
                        info "$1 has istio-injection=enabled (an earlier run, or kubernetes/ossm3/namespace.yml): build pods would get a sidecar too. Removing it:"
                        kube label namespace "$1" istio-injection- ||
                            info "(not allowed: builds here need the control plane's neverInjectSelector for openshift.io/build.name, see kubernetes/ossm3/control-plane.yml)"
                        ;;
                esac
            else
                kube label namespace "$1" "$(injection_label)" --overwrite ||
                    die "cannot label namespace $1 (error above): labelling a namespace needs cluster rights (a cluster-admin runs: oc label namespace $1 $(injection_label))"
            fi
            ;;
    esac
}

# member_refused NAMESPACE: the ServiceMeshMember was refused (its error is above).
member_refused() {
    die "cannot create the ServiceMeshMember in $1 (error above). It needs the mesh-user role on the control plane; its admin grants it: oc policy add-role-to-user mesh-user <you> --role-namespace $CONTROL_PLANE_NAMESPACE -n $CONTROL_PLANE_NAMESPACE"
}

# ensure_namespace NAMESPACE: create it when missing (a project on OpenShift).
# A dry run prints the test and the creation as one line, so the printed commands can be pasted in order.
ensure_namespace() {
    if [ "$DRY_RUN" = 1 ]; then
        if [ "$KUBE_NAME" = oc ]; then
            printf '$ %s get namespace %s >/dev/null 2>&1 || %s new-project %s --skip-config-write\n' "$KUBE_NAME" "$1" "$KUBE_NAME" "$1"
        else
            printf '$ %s get namespace %s >/dev/null 2>&1 || %s create namespace %s\n' "$KUBE_NAME" "$1" "$KUBE_NAME" "$1"
        fi
        return 0
    fi
    show_cmd "$KUBE_NAME" get namespace "$1"
    if "$KUBE" get namespace "$1" >/dev/null 2>&1; then
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
# The wait is bounded (BUILD_TIMEOUT); when it runs out, the build, its phase and its pod's containers are named.
build_image() {
    show_cmd "$KUBE_NAME" get imagestreamtag "$1:$IMAGE_TAG" -n "$2"
    if [ "$DRY_RUN" = 1 ]; then
        info "(when it is there already, the build is skipped unless REBUILD=1)"
    elif "$KUBE" get imagestreamtag "$1:$IMAGE_TAG" -n "$2" >/dev/null 2>&1; then
        info "built already (REBUILD=1 builds it again)"
        [ "${REBUILD:-0}" = 1 ] || return 0
    fi
    if [ "${BUILD_FROM:-staged}" = source ]; then
        kube patch buildconfig "$1" -n "$2" --type merge -p "$DOCKERFILE_FROM_SOURCE" ||
            die "cannot point BuildConfig $1 at container/Dockerfile (error above)"
        from=--from-repo=.
    else
        if [ "$DRY_RUN" != 1 ] && [ ! -f "$D_IMAGE_STAGE/$1/Containerfile" ]; then
            die "$D_IMAGE_STAGE/$1 is not staged. Fix: sh scripts/images.sh --stage-only (builds the static binaries; no container engine needed), or BUILD_FROM=source (the cluster compiles; only oc needed), or IMAGE_PREFIX=<your registry>."
        fi
        from=--from-dir=$D_IMAGE_STAGE/$1
    fi
    # shellcheck disable=SC2016 # printed for pasting: the reader's shell expands it
    printf '$ BUILD=$(%s start-build %s %s -n %s -o name)\n' "$KUBE_NAME" "$1" "$(shell_quote "$from")" "$2"
    if [ "$DRY_RUN" = 1 ]; then
        # shellcheck disable=SC2016 # the variable the printed commands set, printed as such
        BUILD='$BUILD'
    else
        BUILD=$("$KUBE" start-build "$1" "$from" -n "$2" -o name) ||
            die "the in-cluster build of $1 did not start (its error is above)"
        info "started $BUILD (its log: $KUBE_NAME logs -f $BUILD -n $2)"
    fi
    kube wait '--for=jsonpath={.status.phase}=Complete' "$BUILD" -n "$2" "--timeout=$BUILD_TIMEOUT" ||
        build_stuck "${BUILD##*/}" "$2"
}

# build_stuck BUILD NAMESPACE: the build did not complete in time: name it, its phase and its pod's
# containers (the build pod is <build>-build), and the fix when the mesh injected it; then stop.
build_stuck() {
    phase=$("$KUBE" get build "$1" -n "$2" -o 'jsonpath={.status.phase}' 2>/dev/null) || phase=
    containers=$("$KUBE" get pod "$1-build" -n "$2" -o 'jsonpath={.spec.containers[*].name}' 2>/dev/null) || containers=
    fail "build $1 in $2 did not complete within $BUILD_TIMEOUT: phase ${phase:-unknown}, pod $1-build containers: ${containers:-none}"
    case " $containers " in
        *" istio-proxy "*)
            info "The mesh injected the build pod: its proxy is an ordinary container (no native sidecars on this cluster) and never exits, so the pod never ends."
            info "Fix: keep build pods out of injection: remove the namespace label (oc label namespace $2 istio-injection- ; the pods that ask for a sidecar keep it on the default revision),"
            info "  or have the mesh admin add neverInjectSelector openshift.io/build.name to the control plane (kubernetes/ossm3/control-plane.yml); then: oc cancel-build $1 -n $2, and run again."
            ;;
        *) info "Look: $KUBE_NAME logs build/$1 -n $2; $KUBE_NAME describe build $1 -n $2" ;;
    esac
    die "the in-cluster build $1 did not complete"
}

# ensure_service_accounts NAMESPACE ACCOUNT...: create the accounts before the Deployments that run as them,
# and wait (bounded by PULL_SECRET_TIMEOUT) for each to have its registry pull secret: the ServiceAccount
# admission copies the account's imagePullSecrets into a pod when it is admitted, so a pod admitted before
# OpenShift added the secret never pulls from the internal registry.
ensure_service_accounts() {
    ns=$1
    shift
    for sa in "$@"; do
        printf '$ %s create serviceaccount %s -n %s --dry-run=client -o yaml | %s apply -n %s -f -\n' \
            "$KUBE_NAME" "$sa" "$ns" "$KUBE_NAME" "$ns"
        if [ "$DRY_RUN" != 1 ]; then
            "$KUBE" create serviceaccount "$sa" -n "$ns" --dry-run=client -o yaml | "$KUBE" apply -n "$ns" -f - ||
                die "cannot create ServiceAccount $sa in $ns (error above)"
        fi
    done
    for sa in "$@"; do
        show_cmd "$KUBE_NAME" get serviceaccount "$sa" -n "$ns" -o 'jsonpath={.imagePullSecrets[*].name}'
        [ "$DRY_RUN" = 1 ] && continue
        attempts=$(((PULL_SECRET_TIMEOUT + LAB_INTERVAL - 1) / LAB_INTERVAL))
        n=0
        while :; do
            n=$((n + 1))
            secrets=$("$KUBE" get serviceaccount "$sa" -n "$ns" -o 'jsonpath={.imagePullSecrets[*].name}' 2>/dev/null) || secrets=
            [ -z "$secrets" ] || break
            [ "$n" -lt "$attempts" ] ||
                die "ServiceAccount $sa in $ns has no registry pull secret after ${PULL_SECRET_TIMEOUT}s, so its pods could not pull the images built here. Look: oc describe serviceaccount $sa -n $ns (is the internal registry enabled? oc get configs.imageregistry.operator.openshift.io cluster)"
            sleep "$LAB_INTERVAL"
        done
        info "$sa: $secrets"
    done
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
