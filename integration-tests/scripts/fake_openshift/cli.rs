//! The command line: the resource names and flags oc/kubectl accept here, and the NotFound reply.

use std::collections::BTreeMap;

/// The canonical kind for a resource name the CLI accepts.
pub(crate) fn kind_of(resource: &str) -> Option<&'static str> {
    let r = resource.split('.').next().unwrap_or(resource);
    Some(match r {
        "namespace" | "namespaces" | "ns" | "project" => "Namespace",
        "smcp" | "servicemeshcontrolplane" | "servicemeshcontrolplanes" => {
            "ServiceMeshControlPlane"
        }
        "smm" | "servicemeshmember" | "servicemeshmembers" => "ServiceMeshMember",
        "istio" | "istios" => "Istio",
        "imagestreamtag" | "imagestreamtags" | "istag" => "ImageStreamTag",
        "imagestream" | "imagestreams" | "is" => "ImageStream",
        "buildconfig" | "buildconfigs" | "bc" => "BuildConfig",
        "build" | "builds" => "Build",
        "pod" | "pods" | "po" => "Pod",
        "deployment" | "deployments" | "deploy" => "Deployment",
        "serviceaccount" | "serviceaccounts" | "sa" => "ServiceAccount",
        "service" | "services" | "svc" => "Service",
        "route" | "routes" => "Route",
        "virtualservice" | "virtualservices" | "vs" => "VirtualService",
        "serviceentry" | "serviceentries" | "se" => "ServiceEntry",
        "destinationrule" | "destinationrules" | "dr" => "DestinationRule",
        "sidecar" | "sidecars" => "Sidecar",
        "gateway" | "gateways" => "Gateway",
        "peerauthentication" | "peerauthentications" => "PeerAuthentication",
        "authorizationpolicy" | "authorizationpolicies" => "AuthorizationPolicy",
        "requestauthentication" | "requestauthentications" => "RequestAuthentication",
        _ => return None,
    })
}

/// Kinds without a namespace (the CLI ignores -n for them).
pub(crate) fn cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Namespace" | "Istio" | "IstioCNI")
}

pub(crate) fn group_of(kind: &str) -> &'static str {
    match kind {
        "Deployment" => "deployment.apps",
        "ImageStream" => "imagestream.image.openshift.io",
        "BuildConfig" => "buildconfig.build.openshift.io",
        "Route" => "route.route.openshift.io",
        "Gateway" => "gateway.networking.istio.io",
        "VirtualService" => "virtualservice.networking.istio.io",
        "ServiceMeshMember" => "servicemeshmember.maistra.io",
        "ServiceMeshControlPlane" => "servicemeshcontrolplane.maistra.io",
        "Istio" => "istio.sailoperator.io",
        "ServiceEntry" => "serviceentry.networking.istio.io",
        "DestinationRule" => "destinationrule.networking.istio.io",
        "Sidecar" => "sidecar.networking.istio.io",
        "PeerAuthentication" => "peerauthentication.security.istio.io",
        "AuthorizationPolicy" => "authorizationpolicy.security.istio.io",
        "RequestAuthentication" => "requestauthentication.security.istio.io",
        "Pod" => "pod",
        "ServiceAccount" => "serviceaccount",
        "Service" => "service",
        "Namespace" => "namespace",
        _ => "object",
    }
}

/// The parsed command line: positional words and flags.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) words: Vec<String>,
    pub(crate) flags: BTreeMap<String, String>,
    /// What follows `--` (the command of `oc exec`).
    pub(crate) command: Vec<String>,
}

impl Args {
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.flags.get(k).map(String::as_str)
    }
    pub(crate) fn has(&self, k: &str) -> bool {
        self.flags.contains_key(k)
    }
}

pub(crate) const VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "-o",
    "--output",
    "-f",
    "--filename",
    "-l",
    "--selector",
    "-p",
    "--patch",
    "--type",
    "-k",
    "--kustomize",
    "--for",
    "--timeout",
    "--from-dir",
    "--from-repo",
    "--dry-run",
    "-c",
    "--container",
    "--patch-file",
];
pub(crate) const BOOL_FLAGS: &[&str] = &[
    "-A",
    "--all-namespaces",
    "--no-headers",
    "--overwrite",
    "--follow",
    "--wait",
    "--skip-config-write",
    "--ignore-not-found",
    "--all",
];

pub(crate) fn canonical(flag: &str) -> &str {
    match flag {
        "--namespace" => "-n",
        "--output" => "-o",
        "--filename" => "-f",
        "--selector" => "-l",
        "--patch" => "-p",
        "--kustomize" => "-k",
        "--all-namespaces" => "-A",
        "--container" => "-c",
        other => other,
    }
}

pub(crate) fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.command = it.by_ref().cloned().collect();
            break;
        }
        if a.starts_with("--") && a.contains('=') {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            if !VALUE_FLAGS.contains(&k) {
                return Err(format!("flag {k}"));
            }
            out.flags.insert(canonical(k).into(), v.into());
        } else if VALUE_FLAGS.contains(&a.as_str()) {
            let v = it.next().ok_or_else(|| format!("{a} without value"))?;
            out.flags.insert(canonical(a).into(), v.clone());
        } else if BOOL_FLAGS.contains(&a.as_str()) {
            out.flags.insert(canonical(a).into(), String::new());
        } else if a.starts_with('-') && a != "-" {
            return Err(format!("flag {a}"));
        } else {
            out.words.push(a.clone());
        }
    }
    Ok(out)
}

pub(crate) fn not_found(kind_plural: &str, name: &str) -> (u8, String) {
    (
        1,
        format!("Error from server (NotFound): {kind_plural} \"{name}\" not found\n"),
    )
}
