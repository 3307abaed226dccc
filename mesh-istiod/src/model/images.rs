//! What a pod's container runs, read from its `image:` as the kubelet would pull it. istiod has no
//! counterpart (it never looks at images); the lab needs one because it runs every image's program itself,
//! in-process: one of the three services, configured by the settings the image's build fixed.
//!
//! Two kinds of image run:
//! - this repository's own (`customer:0.1.0`, `quay.io/you/recommendation:0.1.0`: the image's last path
//!   segment is one of `mesh_manifests::images::APP_SERVICES`): one binary per service, configured by the Deployment's
//!   environment alone (`RECOMMENDATION_VERSION`, `RESPONSE_DELAY`, …);
//! - the upstream tutorial's published images ([`UPSTREAM`], github.com/redhat-scholars/istio-tutorial):
//!   one image per version, whose behaviour is compiled in. Its settings replace the Deployment's values of
//!   the same variables, as a cluster would ignore them.
//!
//! Any other image is refused by name ([`program`]): the lab never runs it as something else.

use mesh_manifests::images::{APP_SERVICES, image_name, image_tag};
use tutorial_common::vars::{RECOMMENDATION_VERSION, RESPONSE_DELAY, WORLDCLOCK_URL};

/// The repository prefix of the upstream tutorial's images: `<prefix><service>:<tag>`.
pub const UPSTREAM_REPOSITORY: &str = "quay.io/rhdevelopers/istio-tutorial-";
/// The repository prefix upstream's build instructions give the images built from its source
/// (`example/customer`, `example/recommendation:v2`, …), which its `*_jvm.yml` and Node.js Deployments name.
pub const UPSTREAM_LOCAL_BUILD: &str = "example/";

/// The time API upstream's recommendation v3 calls from tag `v3.3` on (its Deployment-v3.yml's `3.3`;
/// the tags before call `worldclockapi.com`, the service's own default): its host, `worldtimeapi.org`, is
/// what upstream's egress ServiceEntry names. The lab's internet answers it like any external host.
pub const UPSTREAM_V3_TIME_API: &str = "http://worldtimeapi.org/api/timezone/Europe/Madrid";

/// One line of upstream's images: the tags of one behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpstreamImage {
    /// The service (`customer`, `preference`, `recommendation`); the repository is
    /// [`UPSTREAM_REPOSITORY`]`<app>`.
    pub app: &'static str,
    /// The tags published with this behaviour.
    pub tags: &'static [&'static str],
    /// The service's variables that reproduce it (name, value).
    pub settings: &'static [(&'static str, &'static str)],
    /// What it does, for the refusal and docs/LOCAL-MESH.md.
    pub does: &'static str,
}

/// The upstream tutorial's published images: every tag its Deployments have named.
pub const UPSTREAM: &[UpstreamImage] = &[
    UpstreamImage {
        app: "customer",
        tags: &["v1", "v1.1"],
        settings: &[],
        does: "customer",
    },
    UpstreamImage {
        app: "preference",
        tags: &["v1", "v1.1"],
        settings: &[],
        does: "preference",
    },
    UpstreamImage {
        app: "recommendation",
        tags: &["v1", "v1.1", "v1.2"],
        settings: &[(RECOMMENDATION_VERSION.name, "v1")],
        does: "recommendation v1",
    },
    UpstreamImage {
        app: "recommendation",
        tags: &["v2", "v2.1", "v2.2"],
        settings: &[(RECOMMENDATION_VERSION.name, "v2")],
        does: "recommendation v2",
    },
    UpstreamImage {
        app: "recommendation",
        tags: &["v2-timeout", "v2.1-timeout", "v2.2-timeout"],
        settings: &[
            (RECOMMENDATION_VERSION.name, "v2"),
            (RESPONSE_DELAY.name, "3s"),
        ],
        does: "recommendation v2, answering after 3 s",
    },
    UpstreamImage {
        app: "recommendation",
        tags: &["v3", "v3.1", "v3.2"],
        settings: &[(RECOMMENDATION_VERSION.name, "v3")],
        does: "recommendation v3, with the time from worldclockapi.com",
    },
    UpstreamImage {
        app: "recommendation",
        tags: &["v3.3", "3.3"],
        settings: &[
            (RECOMMENDATION_VERSION.name, "v3"),
            (WORLDCLOCK_URL.name, UPSTREAM_V3_TIME_API),
        ],
        does: "recommendation v3, with the time from worldtimeapi.org",
    },
];

/// What an image runs: the service and the settings its build fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program {
    pub app: &'static str,
    pub settings: &'static [(&'static str, &'static str)],
}

/// The upstream image `image` names, if it is one of [`UPSTREAM`].
fn upstream(image: &str) -> Option<&'static UpstreamImage> {
    let app = image_name(image).strip_prefix(UPSTREAM_REPOSITORY)?;
    let tag = image_tag(image)?;
    UPSTREAM
        .iter()
        .find(|u| u.app == app && u.tags.contains(&tag))
}

/// What `image` runs; `Err` says which images the lab runs.
pub fn program(image: &str) -> Result<Program, String> {
    if let Some(u) = upstream(image) {
        return Ok(Program {
            app: u.app,
            settings: u.settings,
        });
    }
    let name = image_name(image);
    let service = name.rsplit('/').next().unwrap_or(name);
    if name.starts_with(UPSTREAM_LOCAL_BUILD) && APP_SERVICES.contains(&service) {
        // Upstream's build instructions tag its own Java/Node source `example/<service>:<version>`: what
        // it does is whatever that source was at build time, which this repository's binaries cannot guess.
        return Err(format!(
            "image {image:?} is the upstream tutorial's local build of its own source, which the local mesh \
             cannot run; use the image upstream publishes for that version ({UPSTREAM_REPOSITORY}{service}:TAG, \
             below) or this repository's {service}:0.1.0 configured by the Deployment's environment; it runs \
             the upstream tutorial's: {}",
            runnable()
        ));
    }
    if let Some(app) = APP_SERVICES.iter().copied().find(|s| *s == service) {
        return Ok(Program { app, settings: &[] });
    }
    Err(format!(
        "image {image:?} is not one the local mesh can run; it runs this repository's images \
         (customer, preference or recommendation at any registry and tag, e.g. recommendation:0.1.0) and \
         the upstream tutorial's: {}",
        runnable()
    ))
}

/// Upstream's images, one behaviour each: `<repository>:<tag>|<tag> (<what it does>)`.
fn runnable() -> String {
    UPSTREAM
        .iter()
        .map(|u| {
            format!(
                "{UPSTREAM_REPOSITORY}{}:{} ({})",
                u.app,
                u.tags.join("|"),
                u.does
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
