#!/bin/sh
# clean.sh - remove what the labs created in a namespace: every Istio object (except the ingress
# gateway's VirtualService customer-gateway and the Gateway itself) and the recommendation-v3
# deployment. The namespace comes from the first argument (unlike the original, which ignored it).
set -eu

usage() {
    cat <<'EOF_USAGE'
Usage: sh scripts/clean.sh [--dry-run] [NAMESPACE]

Delete, in NAMESPACE (default $NAMESPACE or tutorial):
  - every VirtualService except customer-gateway (the ingress route stays)
  - every DestinationRule, ServiceEntry, Sidecar, PeerAuthentication,
    AuthorizationPolicy and RequestAuthentication
  - the deployment recommendation-v3
then list what is left and end with a verdict line (✔/✘).

The mesh-wide REGISTRY_ONLY switch is not namespaced: revert it with
  sh scripts/egress-lab.sh --step 13 --mesh <method>

Options:
  --dry-run    print the commands only
  -h, --help   show this help
Environment: KUBECTL (oc, else kubectl).
EOF_USAGE
}

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --dry-run)
            DRY_RUN=1
            shift
            ;;
        -?*)
            printf 'clean.sh: unknown option %s (sh scripts/clean.sh --help)\n' "$1" >&2
            exit 2
            ;;
        *) break ;;
    esac
done
if [ $# -gt 1 ]; then
    printf 'clean.sh: too many arguments (sh scripts/clean.sh --help)\n' >&2
    exit 2
fi
if [ $# = 1 ]; then
    [ -n "$1" ] || {
        printf 'clean.sh: NAMESPACE is empty\n' >&2
        exit 2
    }
    NAMESPACE=$1
fi

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"

detect_kube
check_login

KINDS="destinationrule serviceentry sidecar peerauthentication authorizationpolicy requestauthentication"
failed=0

say "Removing the labs' Istio objects from namespace $NAMESPACE (keeping virtualservice $N_INGRESS_VS)"
if [ "$DRY_RUN" = 1 ]; then
    # The names are the cluster's: one pasteable line that lists them and deletes each, as a real run does.
    # shellcheck disable=SC2016 # expanded by the reader's shell when pasted, not here
    printf '$ for vs in $(%s get virtualservice -n %s -o name); do [ "${vs##*/}" = %s ] || %s delete "$vs" -n %s --ignore-not-found; done\n' \
        "$KUBE_NAME" "$NAMESPACE" "$N_INGRESS_VS" "$KUBE_NAME" "$NAMESPACE"
else
    show_cmd "$KUBE_NAME" get virtualservice -n "$NAMESPACE" -o name
    vs=$("$KUBE" get virtualservice -n "$NAMESPACE" -o name) || failed=1
    for v in $vs; do
        case $v in
            */"$N_INGRESS_VS") info "keeping $v" ;;
            *) kube delete "$v" -n "$NAMESPACE" --ignore-not-found || failed=1 ;;
        esac
    done
fi
for kind in $KINDS; do
    kube delete "$kind" --all -n "$NAMESPACE" --ignore-not-found || failed=1
done

say "Removing deployment $N_V3_DEPLOYMENT"
kube delete deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" --ignore-not-found || failed=1

say "What is left"
if [ "$DRY_RUN" = 1 ]; then
    for kind in virtualservice $KINDS; do
        show_cmd "$KUBE_NAME" get "$kind" -n "$NAMESPACE" -o name
    done
    show_cmd "$KUBE_NAME" get deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" --ignore-not-found -o name
    info "(dry run: a real run ends with its verdict: nothing but virtualservice $N_INGRESS_VS listed)"
    exit 0
fi
left=
for kind in virtualservice $KINDS; do
    show_cmd "$KUBE_NAME" get "$kind" -n "$NAMESPACE" -o name
    names=$("$KUBE" get "$kind" -n "$NAMESPACE" -o name) || {
        failed=1
        continue
    }
    for n in $names; do
        case $n in
            virtualservice*/"$N_INGRESS_VS") ;;
            *) left="$left $n" ;;
        esac
    done
done
show_cmd "$KUBE_NAME" get deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" --ignore-not-found -o name
v3=$("$KUBE" get deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" --ignore-not-found -o name) || failed=1
left="$left${v3:+ $v3}"

if [ -n "$left" ]; then
    fail "namespace $NAMESPACE still has:$left"
    exit 1
elif [ "$failed" = 1 ]; then
    fail "namespace $NAMESPACE: some commands failed (see above); nothing the labs made is listed any more"
    exit 1
fi
pass "namespace $NAMESPACE: no lab objects left (kept virtualservice $N_INGRESS_VS and the Gateway)"
