//! How a request left its proxy (or did not), read from the proxy's access-log entry: `show` groups its
//! traffic by it, the graph puts external hosts in one box per way out and names it on every edge. Its
//! [`WayOut::name`] is the stable word of `mesh-lab show --json`, `/api/graph` and the SVG.

use serde::{Serialize, Serializer};

use crate::dataplane::envoy::AccessLogEntry;
use mesh_istiod::networking::core::cluster_builder::PASSTHROUGH_CLUSTER;
use mesh_istiod::networking::core::httproute::BLOCK_ALL;

/// How a request left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WayOut {
    /// The catch-all `block_all` answered 502 itself (REGISTRY_ONLY), whatever the cluster.
    Blocked,
    /// Response flag NC: the route's cluster does not exist.
    MissingCluster,
    /// The catch-all `allow_any` to PassthroughCluster: egress nothing in the mesh governs.
    Passthrough,
    /// To a Service of the mesh, or into a pod through its inbound cluster.
    Mesh,
    /// Through an outbound cluster that is not a Service of the mesh: a ServiceEntry's host.
    ServiceEntry,
    /// 404 NR: no route matches the Host (only [`WayOut::of_outbound`] tells it from [`WayOut::Other`]).
    NoRoute,
    /// A shadow copy (Envoy's `request_mirror_policies`), seen in the receiver's inbound log.
    Mirror,
    Other,
}

impl WayOut {
    pub const ALL: [Self; 8] = [
        Self::Blocked,
        Self::MissingCluster,
        Self::Passthrough,
        Self::Mesh,
        Self::ServiceEntry,
        Self::NoRoute,
        Self::Mirror,
        Self::Other,
    ];

    /// `show`'s classes of one entry: a request no route matched is [`WayOut::Other`].
    pub fn of(e: &AccessLogEntry) -> Self {
        let flags = e.response_flags.as_deref().unwrap_or("-");
        let cluster = e.upstream_cluster.as_deref().unwrap_or("");
        if e.route_name.as_deref() == Some(BLOCK_ALL) {
            Self::Blocked
        } else if flags.contains("NC") {
            Self::MissingCluster
        } else if cluster == PASSTHROUGH_CLUSTER {
            Self::Passthrough
        } else if cluster.ends_with(".svc.cluster.local") || cluster.starts_with("inbound|") {
            Self::Mesh
        } else if cluster.starts_with("outbound|") {
            Self::ServiceEntry
        } else {
            Self::Other
        }
    }

    /// The graph's classes of an outbound entry: [`WayOut::of`]'s, plus [`WayOut::NoRoute`] (404 NR) for a
    /// Host no route matches.
    pub fn of_outbound(e: &AccessLogEntry) -> Self {
        match Self::of(e) {
            Self::Other if e.response_flags.as_deref().unwrap_or("").contains("NR") => {
                Self::NoRoute
            }
            w => w,
        }
    }

    /// The stable word (JSON, SVG, node ids such as `passthrough:worldclockapi.com`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::MissingCluster => "missing-cluster",
            Self::Passthrough => "passthrough",
            Self::Mesh => "mesh",
            Self::ServiceEntry => "service-entry",
            Self::NoRoute => "no-route",
            Self::Mirror => "mirror",
            Self::Other => "other",
        }
    }

    /// The way out [`WayOut::name`] gives this word, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The words for a group of external hosts that left this way.
    pub fn title(self) -> &'static str {
        match self {
            Self::Passthrough => "PassthroughCluster (not governed)",
            Self::ServiceEntry => "via a ServiceEntry",
            Self::Blocked => "blocked (REGISTRY_ONLY)",
            Self::MissingCluster => "missing cluster (503 NC)",
            Self::NoRoute => "no route (404 NR)",
            Self::Mesh | Self::Mirror | Self::Other => self.name(),
        }
    }
}

/// As its [`WayOut::name`].
impl Serialize for WayOut {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(route: &str, flags: &str, cluster: &str) -> AccessLogEntry {
        serde_json::from_value(json!({
            "route_name": route,
            "response_flags": flags,
            "upstream_cluster": cluster,
        }))
        .unwrap()
    }

    #[test]
    fn of_names_how_each_request_left() {
        let cases = [
            (
                "block_all's direct 502 is blocked, whatever the cluster",
                "block_all",
                "-",
                "-",
                WayOut::Blocked,
            ),
            (
                "flag NC: the route's cluster does not exist",
                "worldclockapi.com:80",
                "NC",
                "outbound|80||worldclockapi.com",
                WayOut::MissingCluster,
            ),
            (
                "PassthroughCluster",
                "allow_any",
                "-",
                "PassthroughCluster",
                WayOut::Passthrough,
            ),
            (
                "a Service of the mesh",
                "default",
                "-",
                "outbound|8080|version-v1|recommendation.tutorial.svc.cluster.local",
                WayOut::Mesh,
            ),
            (
                "an inbound cluster",
                "default",
                "-",
                "inbound|8080||",
                WayOut::Mesh,
            ),
            (
                "a ServiceEntry's host",
                "default",
                "-",
                "outbound|80||worldclockapi.com",
                WayOut::ServiceEntry,
            ),
            ("anything else", "default", "-", "", WayOut::Other),
            ("no route: other for show", "-", "NR", "-", WayOut::Other),
        ];
        for (why, route, flags, cluster, want) in cases {
            assert_eq!(WayOut::of(&entry(route, flags, cluster)), want, "{why}");
        }
    }

    #[test]
    fn of_outbound_tells_no_route_apart() {
        assert_eq!(WayOut::of_outbound(&entry("-", "NR", "-")), WayOut::NoRoute);
        assert_eq!(
            WayOut::of_outbound(&entry("allow_any", "-", "PassthroughCluster")),
            WayOut::Passthrough
        );
        assert_eq!(
            WayOut::of_outbound(&entry("block_all", "NR", "-")),
            WayOut::Blocked,
            "only what is otherwise unclassified becomes no-route"
        );
    }

    #[test]
    fn the_json_says_the_name_and_the_name_gives_the_way_back() {
        let json: Vec<String> = WayOut::ALL
            .iter()
            .map(|w| serde_json::to_string(w).unwrap())
            .collect();
        assert_eq!(
            json,
            [
                "\"blocked\"",
                "\"missing-cluster\"",
                "\"passthrough\"",
                "\"mesh\"",
                "\"service-entry\"",
                "\"no-route\"",
                "\"mirror\"",
                "\"other\""
            ]
        );
        for w in WayOut::ALL {
            assert_eq!(WayOut::from_name(w.name()), Some(w));
        }
        assert_eq!(WayOut::from_name("recommendation"), None);
    }
}
