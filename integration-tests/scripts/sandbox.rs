//! The script tests' sandbox: fake `oc`/`kubectl`/`curl` on a PATH with a few real POSIX tools, what a run
//! printed, and the constants the tests share.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) const PASS: &str = "\u{2714}";
pub(crate) const FAIL: &str = "\u{2718}";

/// The patch the lab prints for a pod that started without its sidecar (egress lab step 2).
pub(crate) const PATCH_V3: &str = r#"oc patch deployment recommendation-v3 -n tutorial -p '{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}'"#;
/// The egress blog's own fix, as the blog prints it: the inject annotation (OSSM 2's injector reads it).
pub(crate) const BLOG_PATCH_V3: &str = r#"oc patch deployment recommendation-v3 -n tutorial -p '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}'"#;

pub(crate) const V3_BODY: &str =
    "customer => preference => recommendation v3 2020-04-06T18:31+02:00 from '83bbb6d11a7e': 1";
pub(crate) const V1_BODY: &str =
    "customer => preference => recommendation v1 from 'f11b097f1dd0': 7123";
pub(crate) const EGRESS_ERROR_BODY: &str = "customer => Error: 503 - preference => Error: 500 - recommendation v3: \
     the mesh proxy answered 503 for http://worldclockapi.com/api/json/cet/now";

/// Tools the scripts and the fakes use; the sandbox PATH holds these and the fakes only.
pub(crate) const TOOLS: &[&str] = &[
    "sh", "dash", "dirname", "sed", "grep", "cat", "mktemp", "rm", "sleep",
];

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests/ has a parent")
        .to_path_buf()
}

pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

pub(crate) fn require_tool(tool: &str, package: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| {
        panic!("`{tool}` not found on PATH: the script tests need it (Debian/Ubuntu: apt-get install {package})")
    })
}

/// A tool from the machine's PATH, or a panic naming how to install it.
pub(crate) fn require_tool_with_hint(tool: &str, hint: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| panic!("`{tool}` not found on PATH: this test needs it ({hint})"))
}

/// Every `*.sh` under `scripts/`, recursively, sorted.
pub(crate) fn all_scripts() -> Vec<PathBuf> {
    pub(crate) fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read scripts dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "sh") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo_root().join("scripts"), &mut found);
    found.sort();
    assert!(!found.is_empty(), "no scripts under scripts/");
    found
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "istio-tutorial-scripts-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn write_executable(path: &Path, contents: &str) {
    fs::write(path, contents).expect("write executable");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// What a script run printed.
pub(crate) struct Run {
    pub(crate) output: Output,
}

impl Run {
    pub(crate) fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    pub(crate) fn stdout(&self) -> String {
        text(&self.output.stdout)
    }
    pub(crate) fn stderr(&self) -> String {
        text(&self.output.stderr)
    }
    pub(crate) fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "exit status\n{}", self.all());
        self
    }
    pub(crate) fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.all()
        );
        self
    }
    pub(crate) fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.all()
        );
        self
    }
    /// The verdict lines (✔/✘) in order.
    pub(crate) fn verdicts(&self) -> Vec<String> {
        self.stdout()
            .lines()
            .filter(|l| l.starts_with(PASS) || l.starts_with(FAIL))
            .map(str::to_owned)
            .collect()
    }
}

/// A sandbox: fake `oc`, `kubectl` and `curl` plus a few real POSIX tools on PATH, nothing else.
pub(crate) struct Sandbox {
    dir: TempDir,
    env: Vec<(String, String)>,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Self::with_fakes(&["oc", "kubectl", "curl"])
    }

    pub(crate) fn with_fakes(fakes: &[&str]) -> Self {
        let dir = TempDir::new();
        let bin = dir.0.join("bin");
        fs::create_dir_all(&bin).expect("bin dir");
        for tool in TOOLS {
            let real = require_tool(tool, tool);
            std::os::unix::fs::symlink(&real, bin.join(tool)).expect("symlink tool");
        }
        let fakes_dir = repo_root().join("integration-tests/scripts");
        for fake in fakes {
            let (script, name) = if *fake == "curl" {
                ("fake-curl.sh", "curl")
            } else {
                ("fake-kube.sh", *fake)
            };
            write_executable(
                &bin.join(name),
                &format!(
                    "#!/bin/sh\nFAKE_NAME={name} exec sh '{}' \"$@\"\n",
                    fakes_dir.join(script).display()
                ),
            );
        }
        fs::write(dir.0.join("bodies"), "").expect("bodies");
        let sandbox = Sandbox {
            env: Vec::new(),
            dir,
        };
        sandbox.answers(&[V1_BODY]);
        sandbox
    }

    /// A sandbox whose `oc`, `kubectl` (unless `only_kubectl`: then `kubectl` alone) and `curl` are the stateful
    /// fake OpenShift (integration-tests/scripts/fake_openshift/) on `profile`: ossm2.6, ossm3.1 or ossm3.2.
    pub(crate) fn openshift(profile: &str) -> Self {
        Self::openshift_with(profile, &["oc", "kubectl", "curl"])
    }

    pub(crate) fn openshift_with(profile: &str, names: &[&str]) -> Self {
        let mut sandbox = Self::with_fakes(&[]);
        let fake = env!("CARGO_BIN_EXE_fake-openshift");
        for name in names {
            write_executable(
                &sandbox.path("bin").join(name),
                &format!("#!/bin/sh\nFAKE_NAME={name} exec '{fake}' \"$@\"\n"),
            );
        }
        let state = sandbox.dir.0.display().to_string();
        sandbox
            .set("FAKE_STATE", &state)
            .set("FAKE_PROFILE", profile)
            .set("GATEWAY_URL", "");
        if let Some(kubectl) = which("kubectl") {
            let kubectl = kubectl.display().to_string();
            sandbox.set("FAKE_KUBECTL", &kubectl);
        }
        sandbox
    }

    /// The fake OpenShift's objects (`objects` keyed "Kind/namespace/name").
    pub(crate) fn cluster(&self) -> serde_json::Value {
        let text = fs::read_to_string(self.path("cluster.json")).unwrap_or_else(|_| "{}".into());
        serde_json::from_str(&text).expect("cluster.json")
    }

    /// The fake OpenShift's objects of one kind.
    pub(crate) fn objects(&self, kind: &str) -> Vec<serde_json::Value> {
        let cluster = self.cluster();
        cluster["objects"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(&format!("{kind}/")))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Calls no rule of the fake OpenShift answered, and `--wait`s that would never have returned.
    pub(crate) fn assert_strictly_answered(&self, run: &Run) {
        let unanswered = self.read_lines("unanswered");
        let hung = self.read_lines("hung");
        assert!(
            unanswered.is_empty() && hung.is_empty(),
            "unanswered: {unanswered:#?}\nhung: {hung:#?}\n{}",
            run.all()
        );
    }

    /// Run one CLI command in the sandbox (from the repository root, as the scripts do).
    pub(crate) fn exec(&self, tool: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(&self.path("bin").join(tool), &repo_root());
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        Run {
            output: cmd.output().expect("run tool"),
        }
    }

    /// `program` started in `dir` with only the sandbox's PATH and the fakes' files in its environment (not
    /// what [`Sandbox::set`] added), standard input closed.
    pub(crate) fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", self.path("bin"))
            .env("HOME", self.dir.0.as_path())
            .env("LC_ALL", "C")
            .env("FAKE_ROOT", repo_root())
            .env("FAKE_LOG", self.path("kube.log"))
            .env("FAKE_STDIN", self.path("stdin.log"))
            .env("FAKE_SCENARIO", self.path("scenario"))
            .env("FAKE_CURL_LOG", self.path("curl.log"))
            .env("FAKE_CURL_BODIES", self.path("bodies"))
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Rules for the fake oc/kubectl: `<exit>|<glob>|<stdout>` lines (see fake-kube.sh).
    pub(crate) fn scenario(&self, rules: &str) -> &Self {
        fs::write(self.path("scenario"), rules).expect("scenario");
        self
    }

    /// What the fake curl answers, in order; the last one repeats.
    pub(crate) fn answers(&self, bodies: &[&str]) -> &Self {
        let mut all = bodies.join("\n");
        all.push('\n');
        fs::write(self.path("bodies"), all).expect("bodies");
        let _ = fs::remove_file(self.path("bodies.n"));
        self
    }

    /// Stage the images' build folders as `scripts/images.sh --stage-only` does (Containerfile + rootfs/)
    /// under this sandbox's CARGO_TARGET_DIR, and return that `images` folder.
    pub(crate) fn stage_images(&mut self) -> String {
        let target = self.path("target");
        for name in [
            "customer",
            "preference",
            "recommendation",
            "worldclock-standin",
        ] {
            let dir = target.join("images").join(name);
            fs::create_dir_all(dir.join("rootfs")).expect("stage dir");
            fs::write(dir.join("Containerfile"), "FROM scratch\n").expect("Containerfile");
        }
        let target = target.display().to_string();
        self.set("CARGO_TARGET_DIR", &target);
        format!("{target}/images")
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub(crate) fn run(&self, script: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(&which("sh").expect("sh"), self.dir.0.as_path());
        cmd.arg(repo_root().join("scripts").join(script))
            .args(args)
            .env("LAB_TIMEOUT", "1")
            .env("LAB_INTERVAL", "1")
            .env("GATEWAY_URL", "gateway.apps.example.test")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        Run {
            output: cmd.output().expect("run script"),
        }
    }

    pub(crate) fn read_lines(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The fake oc/kubectl calls, in order.
    pub(crate) fn kube_calls(&self) -> Vec<String> {
        self.read_lines("kube.log")
    }

    pub(crate) fn curl_calls(&self) -> Vec<String> {
        self.read_lines("curl.log")
    }
}

/// Assert `calls` is exactly `expected` (each element a full recorded command line).
pub(crate) fn assert_calls(calls: &[String], expected: &[&str], run: &Run) {
    assert_eq!(
        calls,
        expected,
        "commands issued, in order (left: issued, right: expected)\n{}",
        run.all()
    );
}

pub(crate) const WHOAMI: &str = "oc whoami";
pub(crate) const WHOAMI_OK: &str = "0|oc whoami|developer\n";

// ---------------------------------------------------------------------------------------------
// Answers real `oc` gives, as fake-kube.sh rules (`<exit>|<glob>|<output>`; errors go to stderr).

/// `oc get smcp -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}'`
/// on an OSSM 2 cluster whose control plane is not called `basic`.
pub(crate) const SMCP_FOUND: &str = "0|oc get smcp -A -o *|istio-system production\n";
/// The same on a cluster without OSSM 2: its CRD is not there.
pub(crate) const SMCP_NO_CRD: &str =
    "1|oc get smcp -A *|error: the server doesn't have a resource type \"smcp\"\n";
/// `oc get istio -o jsonpath='{.items[*].metadata.name}'` on OSSM 3.
pub(crate) const ISTIO_FOUND: &str = "0|oc get istio -o jsonpath=*|default\n";
/// The same where the Sail operator's CRD is missing.
pub(crate) const ISTIO_NO_CRD: &str =
    "1|oc get istio *|error: the server doesn't have a resource type \"istio\"\n";
/// The stand-in time API's Service cluster IP.
pub(crate) const TIME_API_IP: &str =
    "0|oc get service worldclock -n worldclock -o jsonpath=*|172.30.114.23\n";
/// What the stand-in answers (worldclockapi.com's shape), seen by curl inside the v3 pod.
pub(crate) const TIME_API_ANSWERS: &str = "0|oc exec deployment/recommendation-v3 *|{\"$id\":\"1\",\"currentDateTime\":\"2020-04-06T18:31+02:00\",\"utcOffset\":\"02:00:00\",\"isDayLightSavingsTime\":true,\"dayOfTheWeek\":\"Monday\",\"timeZoneName\":\"Central Europe Standard Time\",\"currentFileTime\":132306330600000000,\"ordinalDate\":\"2020-97\",\"serviceResponse\":null}\n";
/// The hostAliases patch step 2 makes with that IP.
pub(crate) const HOST_ALIAS_PATCH: &str = r#"oc patch deployment recommendation-v3 -n tutorial --type merge -p {"spec":{"template":{"spec":{"hostAliases":[{"ip":"172.30.114.23","hostnames":["worldclockapi.com"]}]}}}}"#;
/// The pre-flight call from the v3 pod's sidecar container.
pub(crate) const TIME_API_CHECK: &str = "oc exec deployment/recommendation-v3 -n tutorial -c istio-proxy -- curl -sS --max-time 5 http://worldclockapi.com/api/json/cet/now";
