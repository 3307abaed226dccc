//! The fake OpenShift's platform rules (fake_openshift/rules.rs), each against a table of cases with the
//! reason the outcome follows; every table holds both outcomes, so a rule that answered one way always fails.

#[path = "fake_openshift/rules.rs"]
mod rules;

use rules::{Egress, Injector, Mesh, Profile};
use serde_json::{Value, json};

const BUILD: &str = rules::BUILD_POD_LABEL;
const INJECT: &str = rules::POD_INJECT_LABEL;

fn profile(istio: (u32, u32), kube: (u32, u32)) -> Profile {
    Profile {
        name: "test",
        mesh: Mesh::Ossm3,
        istio,
        openshift: "test",
        kube,
    }
}

/// Mesh, injector revision, neverInjectSelector keys, namespace labels, pod labels, injected, why.
type InjectionCase = (
    Mesh,
    &'static str,
    &'static [&'static str],
    Value,
    Value,
    bool,
    &'static str,
);

#[test]
fn injection_follows_the_webhooks_selectors_and_never_inject_selector() {
    let none: &[&str] = &[];
    let builds: &[&str] = &[BUILD];
    #[rustfmt::skip]
    let rows: &[InjectionCase] = &[
        (Mesh::Ossm3, "default", none, json!({"istio-injection": "enabled"}), json!({}), true,
         "default revision: the `namespace` webhook selects istio-injection=enabled"),
        (Mesh::Ossm3, "default", none, json!({"istio-injection": "enabled"}), json!({INJECT: "false"}), false,
         "a pod labelled inject=false is never injected"),
        (Mesh::Ossm3, "default", none, json!({}), json!({}), false,
         "no namespace label, no pod label: no webhook selects the pod"),
        (Mesh::Ossm3, "default", none, json!({}), json!({INJECT: "true"}), true,
         "default revision: the `object` webhook selects inject=true in an unlabelled namespace"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({}), json!({INJECT: "true"}), false,
         "a revision that is not the default has no `object` webhook for inject=true"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({"istio-injection": "enabled"}), json!({}), false,
         "istio-injection=enabled is the default revision's label, not this revision's"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({"istio.io/rev": "ossm-1-26"}), json!({}), true,
         "`rev.namespace`: the namespace names the revision"),
        (Mesh::Ossm3, "ossm-1-27", none, json!({"istio.io/rev": "ossm-1-26"}), json!({}), false,
         "the namespace names another revision"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({"istio.io/rev": "ossm-1-26", "istio-injection": "enabled"}), json!({}), false,
         "`rev.namespace` wants no istio-injection label beside istio.io/rev"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({}), json!({"istio.io/rev": "ossm-1-26"}), true,
         "`rev.object`: an unlabelled namespace, the pod names the revision"),
        (Mesh::Ossm3, "ossm-1-26", none, json!({"istio-injection": "disabled"}), json!({"istio.io/rev": "ossm-1-26"}), false,
         "`rev.object` wants an unlabelled namespace"),
        (Mesh::Ossm3, "default", builds, json!({"istio-injection": "enabled"}), json!({BUILD: "customer-1"}), false,
         "neverInjectSelector matches the build pod, which has no inject label"),
        (Mesh::Ossm3, "default", none, json!({"istio-injection": "enabled"}), json!({BUILD: "customer-1"}), true,
         "without neverInjectSelector a build pod is a pod like any other"),
        (Mesh::Ossm3, "default", builds, json!({"istio-injection": "enabled"}), json!({BUILD: "customer-1", INJECT: "true"}), true,
         "an explicit inject=true wins over neverInjectSelector"),
        (Mesh::Ossm3, "default", builds, json!({"istio-injection": "enabled"}), json!({"app": "customer"}), true,
         "neverInjectSelector matches only pods with the build label"),
        (Mesh::Ossm2, "default", none, json!({"maistra.io/member-of": "istio-system"}), json!({INJECT: "true"}), true,
         "OSSM 2: a member namespace's pod that asks"),
        (Mesh::Ossm2, "default", none, json!({"maistra.io/member-of": "istio-system"}), json!({}), false,
         "OSSM 2 is opt-in: a member's pod that does not ask"),
        (Mesh::Ossm2, "default", none, json!({}), json!({INJECT: "true"}), false,
         "OSSM 2: a pod that asks in a namespace that is no member"),
        (Mesh::Ossm2, "default", none, json!({"istio-injection": "enabled"}), json!({INJECT: "true"}), false,
         "OSSM 2 ignores istio-injection: membership decides"),
    ];
    for (mesh, revision, never, ns_labels, pod_labels, want, why) in rows {
        let injector = Injector {
            revision,
            never_inject_keys: never.iter().map(|k| (*k).to_owned()).collect(),
        };
        assert_eq!(
            rules::injects(*mesh, &injector, ns_labels, pod_labels, &json!({})),
            *want,
            "{why}: {mesh:?} revision {revision}, namespace {ns_labels}, pod {pod_labels}"
        );
    }
}

/// The egress blog's annotation: mesh, namespace labels, pod labels, pod annotations, injected, why.
type AnnotationCase = (Mesh, Value, Value, Value, bool, &'static str);

#[test]
fn the_inject_annotation_counts_only_where_the_webhook_sees_the_pod_and_no_label_decides() {
    let member = json!({"maistra.io/member-of": "istio-system"});
    #[rustfmt::skip]
    let rows: &[AnnotationCase] = &[
        (Mesh::Ossm2, member.clone(), json!({}), json!({INJECT: "true"}), true,
         "OSSM 2: maistra's webhook sees every member pod; injectRequired reads the annotation"),
        (Mesh::Ossm2, member.clone(), json!({INJECT: "false"}), json!({INJECT: "true"}), false,
         "OSSM 2: the label wins over the annotation"),
        (Mesh::Ossm2, member, json!({INJECT: "true"}), json!({INJECT: "false"}), true,
         "OSSM 2: the label wins the other way too"),
        (Mesh::Ossm3, json!({}), json!({}), json!({INJECT: "true"}), false,
         "OSSM 3, unlabelled namespace: the `object` webhook selects by label; no selector sees the annotation"),
        (Mesh::Ossm3, json!({"istio-injection": "enabled"}), json!({}), json!({INJECT: "false"}), false,
         "OSSM 3, labelled namespace: the webhook sees the pod and injectRequired reads the annotation \"false\""),
        (Mesh::Ossm3, json!({"istio-injection": "enabled"}), json!({INJECT: "false"}), json!({INJECT: "true"}), false,
         "OSSM 3: a pod labelled \"false\" is not even sent to the webhook"),
    ];
    let injector = Injector {
        revision: "default",
        never_inject_keys: Vec::new(),
    };
    for (mesh, ns_labels, pod_labels, annotations, want, why) in rows {
        assert_eq!(
            rules::injects(*mesh, &injector, ns_labels, pod_labels, annotations),
            *want,
            "{why}: {mesh:?} namespace {ns_labels}, pod labels {pod_labels}, annotations {annotations}"
        );
    }
}

#[test]
fn the_proxy_is_a_native_sidecar_from_istio_1_27_on_kubernetes_1_33() {
    #[rustfmt::skip]
    let rows = [
        ((1, 20), (1, 29), false, "OSSM 2.6 on OpenShift 4.16"),
        ((1, 26), (1, 33), false, "Istio 1.26 keeps ENABLE_NATIVE_SIDECARS off"),
        ((1, 27), (1, 31), false, "Kubernetes 1.31: sidecar containers not yet stable"),
        ((1, 27), (1, 33), true, "Istio 1.27 on Kubernetes 1.33: on by default"),
        ((1, 28), (1, 34), true, "later releases on both sides"),
    ];
    for (istio, kube, want, why) in rows {
        assert_eq!(
            rules::native_sidecar(&profile(istio, kube)),
            want,
            "{why}: Istio {istio:?}, Kubernetes {kube:?}"
        );
    }
    let by_profile: Vec<(&str, Mesh, &str, bool)> = rules::PROFILES
        .iter()
        .map(|p| (p.name, p.mesh, p.openshift, rules::native_sidecar(p)))
        .collect();
    assert_eq!(
        by_profile,
        [
            ("ossm2.6", Mesh::Ossm2, "4.16", false),
            ("ossm3.1", Mesh::Ossm3, "4.18", false),
            ("ossm3.2", Mesh::Ossm3, "4.20", true),
        ],
        "only OSSM 3.2 on OpenShift 4.20 injects a native sidecar"
    );
}

#[test]
fn a_build_pod_completes_unless_a_proxy_that_never_exits_runs_beside_it() {
    #[rustfmt::skip]
    let rows = [
        (false, false, true, "no sidecar: the build container exits, the pod Succeeds"),
        (false, true, true, "no sidecar, whatever the mode"),
        (true, false, false, "a regular istio-proxy container never exits: the Build stays Running"),
        (true, true, true, "a native sidecar is stopped once the regular containers exit"),
    ];
    for (injected, native, want, why) in rows {
        assert_eq!(
            rules::build_pod_completes(injected, native),
            want,
            "{why}: injected {injected}, native {native}"
        );
    }
}

#[test]
fn image_admission_resolves_a_short_name_only_to_a_tag_that_exists() {
    // The lookup answers for the `stream:tag` names a row says exist (in a stream with local lookup), each
    // with its own digest; a qualified or digest reference must be left alone even where a lookup of it
    // would answer.
    let resolved = |name: &str| format!("{}/tutorial/{name}@sha256:1", rules::INTERNAL_REGISTRY);
    let internal = format!("{}/tutorial/customer:0.1.0", rules::INTERNAL_REGISTRY);
    let quay = "quay.io/tutorial/customer:0.1.0";
    let digest = "customer@sha256:abc";
    #[rustfmt::skip]
    let rows: [(&str, &[&str], String, &str); 8] = [
        ("customer:0.1.0", &["customer:0.1.0"], resolved("customer:0.1.0"), "a short name whose tag exists: its digest"),
        ("customer", &["customer:latest", "customer:0.1.0"], resolved("customer:latest"), "no tag means :latest"),
        ("customer:0.1.0", &[], "customer:0.1.0".to_owned(), "no such tag at admission: left as written"),
        ("customer:0.2.0", &["customer:0.1.0"], "customer:0.2.0".to_owned(), "another tag of the stream exists, not this one"),
        (quay, &[quay], quay.to_owned(), "already qualified by its registry"),
        (&internal, &[&internal], internal.clone(), "the internal registry's pull spec is already qualified"),
        (digest, &[digest, "customer@sha256:latest"], digest.to_owned(), "a digest is left as it is"),
        ("customer@sha256", &["customer@sha256:latest"], "customer@sha256".to_owned(), "a digest without tag, too"),
    ];
    for (image, existing, want, why) in rows {
        let tag_ref = |stream: &str, tag: &str| {
            let name = format!("{stream}:{tag}");
            existing.contains(&name.as_str()).then(|| resolved(&name))
        };
        assert_eq!(
            rules::admit_image(image, tag_ref),
            want,
            "{why}: {image}, tags {existing:?}"
        );
    }
}

#[test]
fn the_kubelet_pulls_from_the_internal_registry_only_with_the_pull_secret() {
    let internal = format!("{}/tutorial/customer@sha256:1", rules::INTERNAL_REGISTRY);
    let backoff = Some("ImagePullBackOff");
    #[rustfmt::skip]
    let rows = [
        (internal.as_str(), 0, backoff, "admitted before the account had its pull secret"),
        (internal.as_str(), 1, None, "the pod carries the account's pull secret"),
        ("customer:0.1.0", 1, backoff, "a short name is docker.io/library/customer, not there"),
        ("tutorial/customer:0.1.0", 1, backoff, "no registry host: docker.io/tutorial/customer"),
        ("quay.io/tutorial/customer:0.1.0", 0, None, "another registry: public"),
        ("localhost:5000/customer:0.1.0", 0, None, "a registry host with a port"),
        (rules::PROXY_IMAGE, 0, None, "the proxy image, from a public registry"),
    ];
    for (image, secrets, want, why) in rows {
        assert_eq!(
            rules::pull_error(image, secrets),
            want,
            "{why}: {image} with {secrets} pull secret(s)"
        );
    }
}

#[test]
fn the_pull_secret_arrives_some_calls_after_the_account() {
    #[rustfmt::skip]
    let rows = [
        (5, 5, 3, false, "just created"),
        (5, 7, 3, false, "two calls later, the controller has not run yet"),
        (5, 8, 3, true, "three calls later it has"),
        (5, 5, 0, true, "no delay"),
    ];
    for (created, now, delay, want, why) in rows {
        assert_eq!(
            rules::pull_secret_ready(created, now, delay),
            want,
            "{why}: created {created}, now {now}, delay {delay}"
        );
    }
}

#[test]
fn annotate_without_overwrite_refuses_to_change_a_value() {
    let held = json!({"istio-tutorial-rs/outbound-policy-before": "unset", "kubernetes.io/change-cause": "x"});
    let key = "istio-tutorial-rs/outbound-policy-before";
    let refused = Some(format!(
        "error: --overwrite is false but found the following declared annotation(s): '{key}' already has a value (unset)"
    ));
    #[rustfmt::skip]
    let rows = [
        (json!({}), format!("{key}=unset"), false, None, "a new annotation"),
        (held.clone(), format!("{key}=REGISTRY_ONLY"), false, refused.clone(), "another value without --overwrite"),
        (held.clone(), format!("{key}=REGISTRY_ONLY"), true, None, "--overwrite replaces it"),
        (held.clone(), format!("{key}=unset"), false, None, "the same value again"),
        (held.clone(), format!("{key}-"), false, None, "a removal needs no --overwrite"),
        (held.clone(), "kubernetes.io/change-cause=y".to_owned(), false, None, "change-cause may always be replaced"),
    ];
    for (annotations, change, overwrite, want, why) in rows {
        assert_eq!(
            rules::annotate_refuses(&annotations, std::slice::from_ref(&change), overwrite),
            want,
            "{why}: {change} on {annotations}"
        );
    }
}

#[test]
fn the_mesh_user_may_not_list_control_planes_nor_change_namespaces() {
    #[rustfmt::skip]
    let rows = [
        ("get", "smcp", true, Some("at the cluster scope"), "listing control planes cluster-wide"),
        ("get", "smcp", false, Some("in the namespace"), "listing them in a namespace"),
        ("label", "namespace", false, Some("cannot patch resource \"namespaces\""), "labelling a namespace"),
        ("annotate", "namespace", false, Some("cannot patch resource \"namespaces\""), "annotating one"),
        ("get", "pods", false, None, "the app's own objects"),
        ("annotate", "istio", false, None, "not a namespace"),
    ];
    for (verb, resource, all, want, why) in rows {
        let got = rules::mesh_user_forbids(verb, resource, all);
        match want {
            Some(part) => assert!(
                got.as_deref()
                    .is_some_and(|m| m.contains(part) && m.contains("Forbidden")),
                "{why}: {verb} {resource}: {got:?}"
            ),
            None => assert_eq!(got, None, "{why}: {verb} {resource}"),
        }
    }
}

#[test]
fn image_triggers_name_a_tag_and_a_container() {
    let field = r#"spec.template.spec.containers[?(@.name==\"customer\")].image"#;
    let trigger = |extra: &str| {
        json!({"image.openshift.io/triggers": format!(
            r#"[{{"from":{{"kind":"ImageStreamTag","name":"customer:0.1.0"}},"fieldPath":"{field}"{extra}}}]"#
        )})
    };
    let found = vec![("customer:0.1.0".to_owned(), "customer".to_owned())];
    #[rustfmt::skip]
    let rows = [
        (trigger(""), found, "an ImageStreamTag trigger on the customer container"),
        (trigger(r#","paused":"true""#), vec![], "a paused trigger does nothing"),
        (json!({}), vec![], "no triggers annotation"),
        (
            json!({"image.openshift.io/triggers": r#"[{"from":{"kind":"DockerImage","name":"x"},"fieldPath":"spec"}]"#}),
            vec![],
            "only ImageStreamTag triggers",
        ),
    ];
    for (annotations, want, why) in rows {
        assert_eq!(rules::triggers(&annotations), want, "{why}: {annotations}");
    }
}

#[test]
fn the_time_call_meets_the_mesh_egress_rule() {
    let se80: &[u64] = &[80];
    let se443: &[u64] = &[443];
    // (sidecar, resolves, stand-in up, policy, ServiceEntry ports, VirtualService, outcome, why)
    #[rustfmt::skip]
    let rows = [
        (true, false, true, "ALLOW_ANY", None, false, Egress::NoSuchHost, "no hostAliases entry for the host"),
        (false, true, true, "REGISTRY_ONLY", None, false, Egress::Time, "no sidecar: nothing intercepts"),
        (true, true, false, "ALLOW_ANY", None, false, Egress::Refused, "passes through to a stopped stand-in"),
        (true, true, true, "ALLOW_ANY", None, false, Egress::Time, "ALLOW_ANY passes through"),
        (true, true, true, "REGISTRY_ONLY", None, false, Egress::Proxy(502), "REGISTRY_ONLY, host not declared"),
        (true, true, true, "REGISTRY_ONLY", Some(se80), false, Egress::Time, "declared on port 80"),
        (true, true, true, "ALLOW_ANY", Some(se443), true, Egress::Proxy(503), "declared on 443 only, routed: no cluster"),
        (true, true, true, "ALLOW_ANY", Some(se443), false, Egress::Time, "declared on 443, no route: the policy decides"),
    ];
    for (sidecar, resolves, up, policy, ports, vs, want, why) in rows {
        assert_eq!(
            rules::egress(sidecar, resolves, up, policy, ports, vs),
            want,
            "{why}: sidecar {sidecar}, policy {policy}, ServiceEntry ports {ports:?}"
        );
    }
    assert_eq!(rules::TIME_HOST, "worldclockapi.com");
}
