//! Which Istio release's defaults the translation follows. istiod's defaults changed between the
//! releases trainers meet (OpenShift Service Mesh 2.6 is Istio 1.20, OpenShift Service Mesh 3 a current
//! one), and three of them are defaults the lab translates:
//!
//! - the outbound default retry policy retries a 503 (`retriable_status_codes: [503]`) until 1.24, where
//!   pilot/pkg/features/pilot.go `EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY` defaults to on
//!   (pilot/pkg/networking/core/route/retry/retry.go `DefaultPolicy`);
//! - the inbound route has no retry policy until 1.24, where `ENABLE_INBOUND_RETRY_POLICY` defaults to
//!   on and pilot/pkg/networking/core/route/route.go `BuildDefaultHTTPInboundRoute` adds
//!   `reset-before-request`;
//! - a mirrored request's Host gets Envoy's `-shadow` suffix until 1.28, where `DISABLE_SHADOW_HOST_SUFFIX`
//!   defaults to on (route.go `TranslateRequestMirrorPolicy`).

use std::fmt;
use std::str::FromStr;

/// The oldest release whose defaults the lab knows (OpenShift Service Mesh 2.6).
pub const OLDEST_MINOR: u16 = 20;
/// The newest release the lab follows: `current`.
pub const CURRENT_MINOR: u16 = 30;

/// An Istio release, `1.<minor>[.<patch>]`, or `current` (the newest the lab follows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IstioRelease {
    /// `None`: `current`.
    minor: Option<u16>,
    patch: Option<u16>,
}

impl IstioRelease {
    pub const CURRENT: IstioRelease = IstioRelease {
        minor: None,
        patch: None,
    };

    fn minor(self) -> u16 {
        self.minor.unwrap_or(CURRENT_MINOR)
    }

    /// Whether the outbound default retry policy retries a 503 (before 1.24).
    pub fn retries_503_by_default(self) -> bool {
        self.minor() < 24
    }

    /// Whether the inbound route retries a request reset before it reached the app (1.24 on).
    pub fn inbound_retry_policy(self) -> bool {
        self.minor() >= 24
    }

    /// Whether a mirrored request keeps its Host, without Envoy's `-shadow` suffix (1.28 on).
    pub fn shadow_host_suffix_disabled(self) -> bool {
        self.minor() >= 28
    }

    /// The release's documentation on istio.io, as istioctl links it (pkg/url `DocsVersion`: `v1.30`).
    pub fn docs_version(self) -> String {
        format!("v1.{}", self.minor())
    }

    /// What `show` prints: the release and which retry default it brings.
    pub fn version(self) -> String {
        match self.patch {
            Some(p) => format!("1.{}.{p}", self.minor()),
            None => format!("1.{}", self.minor()),
        }
    }

    pub fn describe(self) -> String {
        let retry = if self.retries_503_by_default() {
            "a 503 is retried by default"
        } else {
            "a 503 is not retried by default"
        };
        format!("Istio {self}: {retry}")
    }

    /// The Istio release an OpenShift Service Mesh release ships: 2.6 is Istio 1.20, 3.0 Istio 1.24,
    /// 3.1 Istio 1.26.
    pub fn of_ossm(ossm: &str) -> Result<IstioRelease, String> {
        let minor = match ossm.trim() {
            "2.6" => 20,
            "3" | "3.0" => 24,
            "3.1" => 26,
            _ => {
                return Err(format!(
                    "unknown OpenShift Service Mesh release {ossm:?}: the lab runs 2.6 (Istio 1.20), 3.0 (Istio 1.24) and 3.1 (Istio 1.26); for another, pass its Istio release to --istio"
                ));
            }
        };
        Ok(IstioRelease {
            minor: Some(minor),
            patch: None,
        })
    }
}

impl fmt::Display for IstioRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.minor, self.patch) {
            (None, _) => write!(f, "current (1.{CURRENT_MINOR})"),
            (Some(m), None) => write!(f, "1.{m}"),
            (Some(m), Some(p)) => write!(f, "1.{m}.{p}"),
        }
    }
}

/// What `--istio` accepts, for the refusal.
pub fn accepted() -> String {
    format!(
        "1.{OLDEST_MINOR} to 1.{CURRENT_MINOR} (e.g. 1.20, 1.20.8, 1.24) or current (1.{CURRENT_MINOR})"
    )
}

impl FromStr for IstioRelease {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix('v').unwrap_or(&t);
        let refuse = || format!("unknown Istio release {s:?}: the lab runs {}", accepted());
        if t == "current" {
            return Ok(Self::CURRENT);
        }
        let mut parts = t.split('.');
        let (Some("1"), Some(minor), patch, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse());
        };
        let minor: u16 = minor.parse().map_err(|_| refuse())?;
        let patch = patch
            .map(|p| p.parse::<u16>().map_err(|_| refuse()))
            .transpose()?;
        if !(OLDEST_MINOR..=CURRENT_MINOR).contains(&minor) {
            return Err(refuse());
        }
        Ok(Self {
            minor: Some(minor),
            patch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_and_bring_their_defaults() {
        let r = |s: &str| s.parse::<IstioRelease>().unwrap();
        assert_eq!(r("current"), IstioRelease::CURRENT);
        assert_eq!(IstioRelease::of_ossm("2.6"), Ok(r("1.20")));
        assert_eq!(IstioRelease::of_ossm("3"), Ok(r("1.24")));
        assert_eq!(IstioRelease::of_ossm("3.1"), Ok(r("1.26")));
        assert!(IstioRelease::of_ossm("2.5").is_err());
        assert_eq!(r("1.20.8").to_string(), "1.20.8");
        assert!(r("1.20").retries_503_by_default() && r("1.23.2").retries_503_by_default());
        assert!(!r("1.24").retries_503_by_default() && !r("current").retries_503_by_default());
        assert!(!r("1.23").inbound_retry_policy() && r("1.24").inbound_retry_policy());
        assert!(
            !r("1.27").shadow_host_suffix_disabled() && r("1.28").shadow_host_suffix_disabled()
        );
        assert_eq!(
            r("1.20").describe(),
            "Istio 1.20: a 503 is retried by default"
        );
    }

    #[test]
    fn unknown_releases_are_refused_with_what_is_accepted() {
        for bad in ["1.19", "1.31", "2.0", "1", "1.x", "1.20.8.1", "", "latest"] {
            let e = bad.parse::<IstioRelease>().unwrap_err();
            assert_eq!(
                e,
                format!("unknown Istio release {bad:?}: the lab runs {}", accepted())
            );
        }
    }

    #[test]
    fn the_inbound_route_retries_resets_from_1_24() {
        let retry = |istio: &str| {
            let rc = crate::util::protomarshal::to_json(&crate::bootstrap::inbound_routes(
                8080,
                istio.parse().unwrap(),
            ));
            rc["virtual_hosts"][0]["routes"][0]["route"]
                .get("retry_policy")
                .cloned()
        };
        assert_eq!(retry("1.20"), None);
        assert_eq!(retry("1.23.4"), None);
        let reset = serde_json::json!({"retry_on": "reset-before-request", "num_retries": 2});
        assert_eq!(retry("1.24"), Some(reset.clone()));
        assert_eq!(retry("current"), Some(reset));
    }
}
