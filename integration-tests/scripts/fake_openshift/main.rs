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

mod builds;
mod cli;
mod get;
mod objects;
mod platform;
mod rollouts;
mod rules;
mod state;
mod traffic;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::{env, fs};

use cli::{Args, kind_of, parse};
use rules::Profile;
use serde_json::Value;
use state::seed;

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
    // stdin first: in `oc create ... | oc apply -f -` the writer must not wait for the reader's lock.
    let stdin = if args.windows(2).any(|w| w[0] == "-f" && w[1] == "-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).expect("stdin");
        s
    } else {
        String::new()
    };
    let lock = state::Lock::take(&dir);
    let state = state::load(&dir).unwrap_or_else(|| seed(profile));
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
    state::save(&cluster.dir, &cluster.state);
    drop(lock);
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

    /// The namespace a call names an object of `kind` in: none for a cluster-scoped kind.
    fn ns_for(&self, kind: &str, a: &Args) -> String {
        if cli::cluster_scoped(kind) {
            String::new()
        } else {
            self.ns_of(a)
        }
    }

    fn resource_and_name(&self, a: &Args) -> Option<(&'static str, String)> {
        let first = a.words.get(1)?;
        if let Some((r, n)) = first.split_once('/') {
            return Some((kind_of(r)?, n.to_owned()));
        }
        Some((kind_of(first)?, a.words.get(2).cloned().unwrap_or_default()))
    }
}
