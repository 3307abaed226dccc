#!/bin/sh
# egress-lab.sh - the "Limit Egress/External Traffic" lab (docs/EGRESS-LAB-OPENSHIFT.md), one step at a time.
# Each step prints the commands it runs, runs them, then checks what came back against what the lab
# promises and ends with a verdict line: ✔ (as promised) or ✘ (with the reason and the fix).
set -eu

usage() {
    cat <<'EOF'
Usage: sh scripts/egress-lab.sh [options] --step N [--step M ...]
       sh scripts/egress-lab.sh [options] --all | --from N
       sh scripts/egress-lab.sh --list

Steps:
   1  baseline: curl $GATEWAY_URL answers with the whole chain
   2  deploy recommendation v3, point worldclockapi.com at the stand-in time API,
      check its pod runs 2/2 (with its sidecar) and the time API answers from it
   3  DestinationRule + VirtualService: all recommendation traffic to v3
   4  traffic: v3 answers with the time from worldclockapi.com (egress open, ALLOW_ANY)
   5  ServiceEntry for worldclockapi.com on port 81 (wrong on purpose)
   6  VirtualService worldclockapi-timeout (3s)
   7  observe: customer => Error: 503 - preference => Error: 500 - ...
   8  fix the ServiceEntry (port 80): v3 answers again
   9  delete the ServiceEntry and the VirtualService: still allowed (ALLOW_ANY)
  10  switch the mesh to REGISTRY_ONLY (--mesh picks how): the call is blocked
      (ossm2/ossm3 first record the policy in force, once: run again, it keeps that)
  11  re-create the ServiceEntry (port 80): allowed again
  12  Kiali: print the console URL to look at the graph
  13  revert everything: the mesh's policy as before step 10, sh scripts/clean.sh NAMESPACE

Options:
  --step N          run step N (repeatable, run in the order given)
  --all             run steps 1 to 13, stopping at the first ✘
  --from N          run steps N to 13, stopping at the first ✘
  --list            list the steps
  --mesh METHOD     how step 10 switches to REGISTRY_ONLY (and step 13 back):
                      sidecar    namespace Sidecar resource (any mesh version; default)
                      ossm2      the ServiceMeshControlPlane (found by oc get smcp -A)
                      ossm3      the Istio resource (found by oc get istio)
                    (The blog's `oc get configmap istio | sed | oc replace` cannot work on
                    OSSM: docs/EGRESS-LAB-OPENSHIFT.md, step 10, says why.)
  --fix             step 2: when the v3 pod runs 1/1, apply the fix the check prints
                    and check again
  --without-sidecar step 2: start v3 without its sidecar, as the blog's Deployment-v3.yml did
                    (removes the inject label: nothing asks for one), to show the 1/1 check;
                    add --fix to show the repair too: the blog's annotation patch on OSSM 2;
                    on OSSM 3, whose webhook selects pods by label, the label patch (and in
                    a namespace labelled for injection the 1/1 needs the label "false").
                    The mesh: --mesh ossm2/ossm3, else found (oc get smcp -A, oc get istio)
  --dry-run         print the commands a real run runs, in order, and run nothing;
                    pasted in order they do what the real run does. A value only
                    the cluster knows is read into a shell variable ($GATEWAY_URL,
                    $WORLDCLOCK_IP, $POLICY_BEFORE); where a real run's next command
                    depends on the cluster's answer, the dry run takes the usual one
                    (no policy set before step 10; v3 2/2, or 1/1 with
                    --without-sidecar) and says so
  -i, --interactive wait for Enter before each step
  -n, --namespace NS  namespace of the app (default $NAMESPACE or tutorial)
  -h, --help        show this help

Environment (defaults): NAMESPACE (tutorial), GATEWAY_URL (from the Route
$GATEWAY_ROUTE in $GATEWAY_NAMESPACE: istio-ingressgateway in istio-system),
KUBECTL (oc, else kubectl), MESH (sidecar), LAB_COUNT (10 requests per traffic
step; the lab text uses 1000), LAB_TIMEOUT (60 s to wait for the mesh to apply
a change), LAB_INTERVAL (2 s between polls), ROLLOUT_TIMEOUT (180s),
SMCP_NAME + CONTROL_PLANE_NAMESPACE or ISTIO_NAME (found when unset),
KIALI_NAMESPACE (istio-system), GATEWAY_NAMESPACE (istio-system, then istio-ingress
for OSSM 3), WORLDCLOCK_NAMESPACE (worldclock: the stand-in time API's; "none"
keeps the real worldclockapi.com), IMAGE_PREFIX + IMAGE_TAG (step 2: oc set
image to your registry).

Exit status: 0 when every step run ends ✔ (dry run: when a real run would get
through), 1 at the first ✘ (dry run: where a real run stops), 2 on bad usage,
127 when oc/kubectl or curl is missing.
EOF
}

LAST_STEP=13
STEPS=
FIX_SIDECAR=0
WITHOUT_SIDECAR=0
INTERACTIVE=0
LIST=0

bad_usage() {
    printf 'egress-lab.sh: %s (sh scripts/egress-lab.sh --help)\n' "$1" >&2
    exit 2
}

check_step_number() {
    case $1 in
        '' | *[!0-9]*) bad_usage "not a step number: '$1'" ;;
    esac
    if [ "$1" -lt 1 ] || [ "$1" -gt "$LAST_STEP" ]; then
        bad_usage "no step $1 (steps are 1 to $LAST_STEP)"
    fi
}

while [ $# -gt 0 ]; do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        --step | -s)
            [ $# -ge 2 ] || bad_usage "$1 needs a step number"
            check_step_number "$2"
            STEPS="$STEPS $2"
            shift 2
            ;;
        --step=*)
            check_step_number "${1#--step=}"
            STEPS="$STEPS ${1#--step=}"
            shift
            ;;
        --all)
            STEPS="$STEPS 1 2 3 4 5 6 7 8 9 10 11 12 13"
            shift
            ;;
        --from)
            [ $# -ge 2 ] || bad_usage "--from needs a step number"
            check_step_number "$2"
            s=$2
            while [ "$s" -le "$LAST_STEP" ]; do
                STEPS="$STEPS $s"
                s=$((s + 1))
            done
            shift 2
            ;;
        --list)
            LIST=1
            shift
            ;;
        --mesh)
            [ $# -ge 2 ] || bad_usage "--mesh needs sidecar, ossm2 or ossm3"
            MESH=$2
            shift 2
            ;;
        --mesh=*)
            MESH=${1#--mesh=}
            shift
            ;;
        --fix)
            FIX_SIDECAR=1
            shift
            ;;
        --without-sidecar)
            WITHOUT_SIDECAR=1
            shift
            ;;
        --dry-run)
            DRY_RUN=1
            shift
            ;;
        -i | --interactive)
            INTERACTIVE=1
            shift
            ;;
        -n | --namespace)
            [ $# -ge 2 ] || bad_usage "$1 needs a namespace"
            NAMESPACE=$2
            shift 2
            ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done

if [ "$LIST" = 1 ]; then
    usage | sed -n '/^Steps/,/^$/p'
    exit 0
fi
[ -n "$STEPS" ] || bad_usage "say which step: --step N, --from N or --all"

: "${MESH:=sidecar}"
case $MESH in
    ossm2 | ossm3 | sidecar) ;;
    configmap) bad_usage "--mesh configmap is the blog's history, not a switch: on OSSM 2 the ConfigMap is istio-<control plane>, on OSSM 3 it has no 'mode:' line, and both operators undo hand edits. Use --mesh sidecar, ossm2 or ossm3 (docs/EGRESS-LAB-OPENSHIFT.md, step 10)" ;;
    *) bad_usage "--mesh must be sidecar, ossm2 or ossm3, not '$MESH'" ;;
esac

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$SCRIPT_DIR/lib/common.sh"
: "${KIALI_NAMESPACE:=$CONTROL_PLANE_NAMESPACE}"
BEFORE_ANNOTATION=istio-tutorial-rs/outbound-policy-before

detect_kube
[ "$DRY_RUN" = 1 ] || need_curl
check_login

TMP_DIR=
cleanup() { [ -z "$TMP_DIR" ] || rm -rf "$TMP_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------
# must ARG...: run one of the step's commands; when it fails, end the step with ✘. (Steps run inside
# "if", where set -e does not apply, so every command's status is checked here.)
STEP=
must() {
    "$@" && return 0
    fail "step $STEP: the last command failed (its error is above)"
    return 1
}

# ---------------------------------------------------------------------------------------------------
# Checks shared by the steps. Each prints ✔/✘ and returns 0/1.

# expect_answer STEP REGEX SHOWN HINT: one curl to the gateway, polled until it matches.
expect_answer() {
    show_cmd curl "$GATEWAY_URL"
    [ "$DRY_RUN" = 1 ] && return 0
    if poll_gateway "$2"; then
        printf '%s\n' "$LAST_BODY"
        pass "step $1: the answer matches: $3"
    else
        printf '%s\n' "$LAST_BODY"
        fail "step $1: after ${LAB_TIMEOUT}s the answer still does not match: $3"
        info "$4"
        return 1
    fi
}

# expect_run STEP COUNT REGEX SHOWN HINT: wait until the gateway answers as expected (the mesh takes
# a few seconds), then run.sh COUNT: every numbered line must match.
expect_run() {
    show_cmd sh scripts/run.sh "$2" "$GATEWAY_URL"
    [ "$DRY_RUN" = 1 ] && return 0
    if ! poll_gateway "$3"; then
        printf '# 0: %s\n' "$LAST_BODY"
        fail "step $1: after ${LAB_TIMEOUT}s the answer still does not match: $4"
        info "$5"
        return 1
    fi
    [ -n "$TMP_DIR" ] || TMP_DIR=$(mktemp -d)
    out="$TMP_DIR/run.out"
    sh "$SCRIPT_DIR/run.sh" "$2" "$GATEWAY_HTTP" >"$out"
    cat "$out"
    body_re=${3#^}
    lines=$(grep -c '' "$out") || lines=0
    good=$(grep -Ec -- "^# [0-9]+: $body_re" "$out") || good=0
    if [ "$lines" = "$2" ] && [ "$good" = "$2" ]; then
        pass "step $1: $good/$2 answers match: $4"
    else
        bad=$(grep -Ev -- "^# [0-9]+: $body_re" "$out" | sed -n 1p) || bad=
        fail "step $1: $good/$2 answers match: $4"
        [ -z "$bad" ] || info "first one that does not: $bad"
        info "$5"
        return 1
    fi
}

# expect_field STEP KIND NAME JSONPATH WANT: the object exists and the field has the wanted value.
expect_field() {
    show_cmd "$KUBE_NAME" get "$2" "$3" -n "$NAMESPACE" -o "jsonpath=$4"
    [ "$DRY_RUN" = 1 ] && return 0
    got=$("$KUBE" get "$2" "$3" -n "$NAMESPACE" -o "jsonpath=$4" 2>&1) || {
        printf '%s\n' "$got"
        fail "step $1: $2 $3 is not there in namespace $NAMESPACE."
        return 1
    }
    printf '%s\n' "$got"
    if [ "$got" = "$5" ]; then
        pass "step $1: $2 $3 has $4 = $5"
    else
        fail "step $1: $2 $3 has $4 = '$got', expected '$5'"
        return 1
    fi
}

SHOW_CHAIN="customer => preference => recommendation vN ... from '<pod>': <n>"
SHOW_V3="customer => preference => recommendation v3 <time> from '<pod>': <n>"
SHOW_FAILS="customer => Error: 503 - preference => Error: 500 - <why the time lookup failed>"
HINT_V3="No v3 answer: check steps 2-3 (v3 pod 2/2, VirtualService recommendation to subset version-v3); an error naming worldclockapi.com means egress is closed: is the mesh still REGISTRY_ONLY? (step 13 reverts)"

# ---------------------------------------------------------------------------------------------------
# The mesh-wide REGISTRY_ONLY switch (step 10) and its revert (step 13). With ossm2/ossm3, step 10 first
# records the policy in force on the control-plane resource itself (annotation $BEFORE_ANNOTATION: ALLOW_ANY,
# REGISTRY_ONLY or unset), so that step 13 restores that policy rather than ALLOW_ANY whatever it was. The
# record is made once: step 10 run again (after a ✘, "--from 10") finds REGISTRY_ONLY in force, its own doing,
# and keeps the first record; step 13 restores from it and then removes it.

# on_control_plane VERB ARG...: oc VERB on the SMCP (OSSM 2) or the Istio resource (OSSM 3), printed and run.
on_control_plane() {
    verb=$1
    shift
    if [ "$MESH" = ossm2 ]; then
        kube "$verb" smcp "$SMCP_NAME" -n "$CONTROL_PLANE_NAMESPACE" "$@"
    else
        kube "$verb" istio "$ISTIO_NAME" "$@"
    fi
}

# control_plane_get [VAR] JSONPATH: read a field of the control-plane resource into FIELD (empty in a dry run).
# Printed as typed; with VAR as "$ VAR=$(oc get ...)", for a value a later printed command uses as $VAR.
control_plane_get() {
    var=
    [ $# = 1 ] || {
        var=$1
        shift
    }
    if [ "$MESH" = ossm2 ]; then
        set -- smcp "$SMCP_NAME" -n "$CONTROL_PLANE_NAMESPACE" -o "jsonpath=$1"
    else
        set -- istio "$ISTIO_NAME" -o "jsonpath=$1"
    fi
    if [ -n "$var" ]; then
        # shellcheck disable=SC2016 # a command substitution for the reader's shell, printed
        printf '$ %s=$(%s)\n' "$var" "$(show_cmd "$KUBE_NAME" get "$@" | sed 's/^[$] //')"
    else
        show_cmd "$KUBE_NAME" get "$@"
    fi
    FIELD=
    [ "$DRY_RUN" = 1 ] && return 0
    FIELD=$("$KUBE" get "$@") || return 1
}

# The outbound policy's field, and the merge patch that removes it (back to the operator's default).
policy_field() {
    if [ "$MESH" = ossm2 ]; then
        printf '{.spec.proxy.networking.trafficControl.outbound.policy}'
    else
        printf '{.spec.values.meshConfig.outboundTrafficPolicy.mode}'
    fi
}
unset_policy_patch() {
    if [ "$MESH" = ossm2 ]; then
        printf '{"spec":{"proxy":{"networking":{"trafficControl":{"outbound":{"policy":null}}}}}}'
    else
        printf '{"spec":{"values":{"meshConfig":{"outboundTrafficPolicy":null}}}}'
    fi
}

MESH_FOUND=0
find_control_plane() {
    [ "$MESH_FOUND" = 0 ] || return 0
    detect_mesh "$MESH"
    MESH_FOUND=1
}

# record_policy_before: annotate the control plane with the policy in force, unless step 10 did already.
# The annotation is written without --overwrite, so oc itself refuses to replace a record (kubectl annotate checks before it sends anything).
record_policy_before() {
    control_plane_get "{.metadata.annotations.$BEFORE_ANNOTATION}" || return 1
    if [ -n "$FIELD" ]; then
        info "step 10 ran before: it recorded $FIELD as the policy before the lab; that record stays, for step 13"
        return 0
    fi
    [ "$DRY_RUN" != 1 ] || info "(dry run: assumed no record yet, as at the first step 10; with one, the next two commands are skipped)"
    control_plane_get POLICY_BEFORE "$(policy_field)" || return 1
    if [ "$DRY_RUN" = 1 ]; then
        # The value is the cluster's: printed as the shell variable the line above sets.
        # shellcheck disable=SC2016 # expanded by the reader's shell when pasted, not here
        printf '$ %s annotate %s %s="${POLICY_BEFORE:-unset}"\n' "$KUBE_NAME" "$(control_plane_args)" "$BEFORE_ANNOTATION"
        return 0
    fi
    [ "$FIELD" != REGISTRY_ONLY ] || info "(REGISTRY_ONLY was in force already; step 13 will leave it so)"
    on_control_plane annotate "$BEFORE_ANNOTATION=${FIELD:-unset}"
}

# control_plane_args: the control-plane resource as the printed commands name it.
control_plane_args() {
    if [ "$MESH" = ossm2 ]; then
        printf 'smcp %s -n %s' "$SMCP_NAME" "$CONTROL_PLANE_NAMESPACE"
    else
        printf 'istio %s' "$ISTIO_NAME"
    fi
}

registry_only() {
    case $MESH in
        sidecar) kube apply -f "$F_REGISTRY_ONLY_SIDECAR" -n "$NAMESPACE" ;;
        ossm2 | ossm3)
            find_control_plane
            record_policy_before || return 1
            if [ "$MESH" = ossm2 ]; then f=$F_REGISTRY_ONLY_OSSM2; else f=$F_REGISTRY_ONLY_OSSM3; fi
            on_control_plane patch --type merge --patch-file "$f"
            ;;
    esac
}

restore_outbound_policy() {
    case $MESH in
        sidecar) kube apply -f "$F_ALLOW_ANY_SIDECAR" -n "$NAMESPACE" ;;
        ossm2 | ossm3)
            find_control_plane
            control_plane_get "{.metadata.annotations.$BEFORE_ANNOTATION}" || return 1
            before=$FIELD
            if [ "$MESH" = ossm2 ]; then f=$F_ALLOW_ANY_OSSM2; else f=$F_ALLOW_ANY_OSSM3; fi
            if [ "$DRY_RUN" = 1 ]; then
                # As step 10's dry run assumes: no policy was set (the operators' default).
                before='unset'
                info "(dry run: assumed the record says unset; ALLOW_ANY would run $KUBE_NAME patch $(control_plane_args) --type merge --patch-file $f instead of the patch below, REGISTRY_ONLY no patch)"
            fi
            case $before in
                REGISTRY_ONLY) info "REGISTRY_ONLY was in force before step 10: left as it is" ;;
                unset)
                    info "no policy was set before step 10: removing it again (the operator's default, ALLOW_ANY)"
                    on_control_plane patch --type merge -p "$(unset_policy_patch)" || return 1
                    ;;
                *)
                    [ -n "$before" ] || info "(step 10 recorded no policy here: setting ALLOW_ANY, the default)"
                    on_control_plane patch --type merge --patch-file "$f" || return 1
                    ;;
            esac
            [ -z "$before" ] || on_control_plane annotate "$BEFORE_ANNOTATION-"
            ;;
    esac
}

# ---------------------------------------------------------------------------------------------------
# The steps.

step_1() {
    say "Step 1: baseline - the chain answers through the ingress gateway"
    gateway_url
    expect_answer 1 "$RE_CHAIN_OK" "$SHOW_CHAIN" \
        "Is the app deployed and in the mesh? sh scripts/deploy.sh $NAMESPACE"
}

apply_v3() { (cd "$D_RECOMMENDATION" && "$KUBE" apply -f "$F_RECOMMENDATION_V3_IN_DIR" -n "$NAMESPACE"); }

# point_v3_at_time_api: v3 keeps calling worldclockapi.com; its pod's /etc/hosts maps that host to the
# stand-in's Service (kubernetes/worldclock/, outside the mesh), whose cluster IP only the cluster knows:
# read into WORLDCLOCK_IP, which a dry run's patch line names, so that the printed lines can be pasted.
point_v3_at_time_api() {
    if [ "$WORLDCLOCK_NAMESPACE" = none ]; then
        info "(WORLDCLOCK_NAMESPACE=none: v3 calls the real $WORLDCLOCK_HOST)"
        return 0
    fi
    printf "\$ WORLDCLOCK_IP=\$(%s get service %s -n %s -o jsonpath='{.spec.clusterIP}')\n" \
        "$KUBE_NAME" "$N_WORLDCLOCK_SERVICE" "$WORLDCLOCK_NAMESPACE"
    if [ "$DRY_RUN" = 1 ]; then
        printf "\$ %s patch deployment %s -n %s --type merge -p '%s'\n" "$KUBE_NAME" "$N_V3_DEPLOYMENT" "$NAMESPACE" \
            "$(host_alias_patch "'\"\$WORLDCLOCK_IP\"'")"
        return 0
    fi
    ip=$(time_api_ip)
    if [ -z "$ip" ]; then
        fail "step 2: no stand-in time API (service $N_WORLDCLOCK_SERVICE in $WORLDCLOCK_NAMESPACE): v3 would show errors instead of the time."
        info "Fix: sh scripts/deploy.sh (deploys it from $F_WORLDCLOCK_STANDIN), or WORLDCLOCK_NAMESPACE=none where the real $WORLDCLOCK_HOST answers."
        return 1
    fi
    must kube patch deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" --type merge -p "$(host_alias_patch "$ip")"
}

# host_alias_patch IP: the merge patch that maps the lab's host to IP in the v3 pod's /etc/hosts.
host_alias_patch() {
    printf '{"spec":{"template":{"spec":{"hostAliases":[{"ip":"%s","hostnames":["%s"]}]}}}}' "$1" "$WORLDCLOCK_HOST"
}

# time_api_answers: the pre-flight: from inside the v3 pod (its sidecar container, whose own traffic the
# mesh does not capture), the time API answers under the lab's host.
time_api_answers() {
    url="http://$WORLDCLOCK_HOST$WORLDCLOCK_PATH"
    show_cmd "$KUBE_NAME" exec "deployment/$N_V3_DEPLOYMENT" -n "$NAMESPACE" -c istio-proxy -- curl -sS --max-time 5 "$url"
    [ "$DRY_RUN" = 1 ] && return 0
    if answer=$("$KUBE" exec "deployment/$N_V3_DEPLOYMENT" -n "$NAMESPACE" -c istio-proxy -- curl -sS --max-time 5 "$url" 2>&1); then
        printf '%s\n' "$answer"
        case $answer in
            *'"currentDateTime"'*)
                pass "step 2: the time API answers from the v3 pod ($url)"
                return 0
                ;;
        esac
    else
        printf '%s\n' "$answer"
        case $answer in
            *'executable file not found'* | *'no such file or directory'*)
                info "(the proxy image has no curl, so this check cannot run here; step 4 shows the time)"
                return 0
                ;;
        esac
    fi
    fail "step 2: the time API does not answer from the v3 pod ($url): steps 4, 8, 9 and 11 would show errors instead of the time."
    info "Look: $KUBE_NAME get pods -n $WORLDCLOCK_NAMESPACE (the stand-in), $KUBE_NAME get deployment $N_V3_DEPLOYMENT -n $NAMESPACE -o jsonpath='{.spec.template.spec.hostAliases}'"
    return 1
}

# ---------------------------------------------------------------------------------------------------
# Step 2's blog moment (--without-sidecar) and its fix (--fix). The blog's v3 pod ran 1/1 because nothing
# asked for a sidecar, and its fix was `oc patch ... annotations ... "true"`. Whether that annotation
# injects depends on the injector (docs/EGRESS-LAB-OPENSHIFT.md, step 2, says why):
#   OSSM 2: maistra's webhook is called for every pod of a member namespace (namespaceSelector
#     maistra.io/member-of, no objectSelector) and injects those that ask, by label or annotation (istio's
#     pkg/kube/inject/inject.go injectRequired, label first): the blog's patch is the fix.
#   OSSM 3, namespace without injection label (the default revision; deploy.sh leaves it so): the webhook is
#     called only for pods labelled sidecar.istio.io/inject=true (its objectSelector, istio's
#     manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml); a selector reads labels,
#     so the annotation alone starts a new pod, 1/1 again: the label is the fix.
#   OSSM 3, namespace labelled istio.io/rev or istio-injection=enabled: every pod is injected unless labelled
#     "false", so the blog's 1/1 needs that label, and no annotation counts under it: the label "true" is the fix.
INJECTION=

# find_injection: how NAMESPACE's pods get a sidecar: INJECTION=request (only pods that ask) or namespace
# (every pod but those labelled "false"), and SIDECAR_REQUEST=annotations where the annotation asks (OSSM 2).
find_injection() {
    [ -z "$INJECTION" ] || return 0
    if [ "$MESH" = sidecar ]; then detect_mesh auto; else find_control_plane; fi
    INJECTION=request
    if [ "$MESH_KIND" = ossm2 ]; then
        SIDECAR_REQUEST=annotations
        info "OSSM 2 injects the pods of a member namespace that ask, by label or annotation: the blog's annotation patch is the fix"
        return 0
    fi
    if [ "$DRY_RUN" = 1 ]; then
        info "(dry run: namespace $NAMESPACE assumed without injection label, as deploy.sh leaves it for the default revision)"
    else
        labels=$("$KUBE" get namespace "$NAMESPACE" -o 'jsonpath={.metadata.labels}' 2>/dev/null) || labels=
        case $labels in
            *'"istio-injection":"enabled"'* | *'"istio.io/rev":'*) INJECTION=namespace ;;
        esac
    fi
    if [ "$INJECTION" = namespace ]; then
        info "OSSM 3, namespace $NAMESPACE labelled for injection: every pod there gets a sidecar unless labelled \"false\", so the blog's 1/1 needs that label, and no annotation counts under it (the label wins): the fix is the label \"true\""
    else
        info "OSSM 3: the blog's annotation patch would start a new pod, 1/1 again: the webhook is called only for pods labelled $INJECT_LABEL=true (its objectSelector; a selector reads labels, not annotations): the fix is the label"
    fi
}

# without_sidecar: the blog's moment: v3's pod template asks for no sidecar (the inject label removed; the
# patch also works when the label is absent), or, where the namespace injects every pod, refuses one.
without_sidecar() {
    find_injection
    if [ "$INJECTION" = namespace ]; then
        must kube patch deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" -p "$(inject_patch false)"
        return
    fi
    info "(re-creating the blog's moment: its Deployment-v3.yml did not ask for a sidecar)"
    must kube patch deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" -p "$(printf '{"spec":{"template":{"metadata":{"labels":{"%s":null}}}}}' "$INJECT_LABEL")"
}

step_2() {
    say "Step 2: deploy recommendation v3 (it calls worldclockapi.com for the time)"
    # A subshell, as the script runs it: pasted, the line leaves the terminal in the directory it was in.
    printf '$ (cd %s && %s apply -f %s -n %s)\n' "$D_RECOMMENDATION" "$KUBE_NAME" "$F_RECOMMENDATION_V3_IN_DIR" "$NAMESPACE"
    if [ "$DRY_RUN" != 1 ]; then
        must apply_v3 || return 1
    fi
    must set_image "$N_V3_DEPLOYMENT" recommendation || return 1
    point_v3_at_time_api || return 1
    if [ "$WITHOUT_SIDECAR" = 1 ]; then
        without_sidecar || return 1
    fi
    wait_rollout "$N_V3_DEPLOYMENT" recommendation v3 || return 1
    if check_sidecar "$N_V3_DEPLOYMENT" recommendation v3; then
        # A dry run sees no pod: it goes on as a real run would, 1/1 after --without-sidecar, else 2/2.
        if [ "$DRY_RUN" != 1 ]; then
            pass "step 2: $N_V3_DEPLOYMENT runs with its sidecar (2/2)"
            time_api_answers
            return
        elif [ "$WITHOUT_SIDECAR" = 0 ]; then
            time_api_answers
            return
        fi
        info "(dry run: the pod runs 1/1 here, without its sidecar; the fix: $KUBE_NAME patch deployment $N_V3_DEPLOYMENT -n $NAMESPACE -p '$(request_patch)')"
    fi
    if [ "$FIX_SIDECAR" = 1 ]; then
        # In a dry run the template is the one --without-sidecar left asking for nothing: the request fix.
        if [ "$DRY_RUN" != 1 ] && template_asks_for_sidecar "$N_V3_DEPLOYMENT"; then
            # Asking again changes nothing; a new pod, now that the namespace is in the mesh, does.
            must kube rollout restart "deployment/$N_V3_DEPLOYMENT" -n "$NAMESPACE" || return 1
        else
            must kube patch deployment "$N_V3_DEPLOYMENT" -n "$NAMESPACE" -p "$(request_patch)" || return 1
        fi
        wait_rollout "$N_V3_DEPLOYMENT" recommendation v3 || return 1
        if check_sidecar "$N_V3_DEPLOYMENT" recommendation v3; then
            [ "$DRY_RUN" = 1 ] || pass "step 2: $N_V3_DEPLOYMENT runs with its sidecar (2/2) after the fix"
            time_api_answers
            return
        fi
    fi
    if [ "$DRY_RUN" = 1 ]; then
        info "(dry run: a real run stops here with ✘; add --fix to rehearse the repair)"
        return 1
    fi
    fail "step 2: $N_V3_DEPLOYMENT is not running 2/2 (apply the fix above, or rerun with --fix)"
    return 1
}

step_3() {
    say "Step 3: send all recommendation traffic to v3 (DestinationRule subsets + VirtualService)"
    must kube apply -f "$F_DR_RECOMMENDATION" -n "$NAMESPACE" || return 1
    must kube apply -f "$F_VS_RECOMMENDATION_V3" -n "$NAMESPACE" || return 1
    expect_field 3 virtualservice "$N_RECOMMENDATION" '{.spec.http[0].route[0].destination.subset}' version-v3
}

step_4() {
    say "Step 4: traffic - v3 fetches the time from worldclockapi.com (egress open: ALLOW_ANY)"
    gateway_url
    expect_run 4 "$LAB_COUNT" "$RE_V3_OK" "$SHOW_V3" "$HINT_V3"
}

step_5() {
    say "Step 5: ServiceEntry $N_SERVICE_ENTRY for worldclockapi.com - on port 81, wrong on purpose"
    must kube apply -f "$F_SE_WORLDCLOCK_WRONG_PORT" -n "$NAMESPACE" || return 1
    expect_field 5 serviceentry "$N_SERVICE_ENTRY" '{.spec.ports[*].number}' 81
}

step_6() {
    say "Step 6: VirtualService $N_VS_WORLDCLOCK: 3s timeout on calls to worldclockapi.com"
    must kube apply -f "$F_VS_WORLDCLOCK_TIMEOUT" -n "$NAMESPACE" || return 1
    expect_field 6 virtualservice "$N_VS_WORLDCLOCK" '{.spec.http[0].timeout}' 3s
}

step_7() {
    say "Step 7: observe - the app calls port 80, which the ServiceEntry does not declare"
    gateway_url
    expect_run 7 1 "$RE_EGRESS_FAILS" "$SHOW_FAILS" \
        "Still answering? Check steps 5-6 are applied: $KUBE_NAME get serviceentry,virtualservice -n $NAMESPACE"
}

step_8() {
    say "Step 8: fix the ServiceEntry (port 80): v3 answers again, its counter continuing"
    must kube apply -f "$F_SE_WORLDCLOCK" -n "$NAMESPACE" || return 1
    expect_field 8 serviceentry "$N_SERVICE_ENTRY" '{.spec.ports[*].number}' 80 || return 1
    gateway_url
    expect_run 8 "$LAB_COUNT" "$RE_V3_OK" "$SHOW_V3" "$HINT_V3"
}

step_9() {
    say "Step 9: delete the ServiceEntry and the VirtualService - egress is still allowed (ALLOW_ANY)"
    must kube delete serviceentry "$N_SERVICE_ENTRY" -n "$NAMESPACE" --ignore-not-found || return 1
    must kube delete virtualservice "$N_VS_WORLDCLOCK" -n "$NAMESPACE" --ignore-not-found || return 1
    gateway_url
    expect_answer 9 "$RE_V3_OK" "$SHOW_V3" "$HINT_V3"
}

step_10() {
    say "Step 10: switch the mesh to REGISTRY_ONLY ($MESH): calls to hosts the mesh does not know are blocked"
    must registry_only || return 1
    gateway_url
    expect_run 10 1 "$RE_EGRESS_FAILS" "$SHOW_FAILS" \
        "Still allowed? With --mesh $MESH, check the switch took (step 10's command), that no ServiceEntry for worldclockapi.com is left ($KUBE_NAME get serviceentry -n $NAMESPACE), and that --mesh matches your Service Mesh version."
}

step_11() {
    say "Step 11: re-create the ServiceEntry (port 80): worldclockapi.com is in the registry, allowed again"
    must kube apply -f "$F_SE_WORLDCLOCK" -n "$NAMESPACE" || return 1
    gateway_url
    expect_run 11 "$LAB_COUNT" "$RE_V3_OK" "$SHOW_V3" "$HINT_V3"
}

step_12() {
    say "Step 12: look at the graph in Kiali (namespace $NAMESPACE, Versioned app graph)"
    show_cmd "$KUBE_NAME" -n "$KIALI_NAMESPACE" get route kiali -o 'jsonpath={.spec.host}'
    [ "$DRY_RUN" = 1 ] && return 0
    host=$("$KUBE" -n "$KIALI_NAMESPACE" get route kiali -o 'jsonpath={.spec.host}' 2>&1) || host=
    if [ -n "$host" ]; then
        printf 'https://%s\n' "$host"
        pass "step 12: Kiali at https://$host - Graph, namespace $NAMESPACE: worldclockapi.com appears as a ServiceEntry node"
    else
        fail "step 12: no Route kiali in $KIALI_NAMESPACE (Kiali not installed there? set KIALI_NAMESPACE)"
        return 1
    fi
}

step_13() {
    say "Step 13: revert everything - the mesh's policy as before step 10 ($MESH), lab objects and v3 removed"
    must restore_outbound_policy || return 1
    must run sh scripts/clean.sh "$NAMESPACE" || return 1
    gateway_url
    expect_answer 13 "$RE_CHAIN_OK" "$SHOW_CHAIN" \
        "Is the app itself still deployed? sh scripts/deploy.sh $NAMESPACE"
}

# ---------------------------------------------------------------------------------------------------
[ "$DRY_RUN" != 1 ] || info "(dry run: commands are printed, nothing is run)"
if [ "$DRY_RUN" = 1 ] && [ -z "${GATEWAY_URL:-}" ] && [ -z "$GATEWAY_NAMESPACE_GIVEN" ]; then
    # A real run reads istio-ingress when istio-system has no Route; a dry run cannot know which answers.
    info "(dry run: GATEWAY_URL from the Route in $GATEWAY_NAMESPACE; on OSSM 3 it is in istio-ingress: rehearse with GATEWAY_NAMESPACE=istio-ingress)"
fi
info "namespace $NAMESPACE, CLI $KUBE_NAME, REGISTRY_ONLY method $MESH"
for s in $STEPS; do
    STEP=$s
    if [ "$INTERACTIVE" = 1 ]; then
        printf '\n[step %s] press Enter to run it, Ctrl-C to stop ' "$s"
        read -r _ || true
    fi
    if ! "step_$s"; then
        printf '\nStopped at step %s. Fix it, then go on with: sh scripts/egress-lab.sh --from %s\n' "$s" "$s" >&2
        exit 1
    fi
done
