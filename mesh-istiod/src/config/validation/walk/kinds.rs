//! Each walked kind: the object the walk starts from, what it needs around it, and the sample values and
//! exemptions the generic ones cannot give. An exemption is a field istiod itself translates to nothing
//! in the lab's one-namespace, one-port, stand-in-internet world; each says why.

use super::Kind;
use crate::config::validation::{networking as n, security as s};

const SUBSETS: &str = "istio/destination-rule-recommendation-v1-v2-v3.yml";
const GATEWAY: &str = "kubernetes/app/customer-gateway.yml";
const WORLDCLOCK: &str = "istio/service-entry-egress-worldclockapi.yml";

/// `exportTo` naming the lab's namespace (a list that does not is refused: `policy::check_export_to`).
const EXPORT_TO: (&str, &str) = ("spec.exportTo.*", "\".\"");
const EXPORTED: (&str, &str) = (
    "spec.exportTo.*",
    "every proxy of the lab is in the object's namespace, so `.` changes nothing, as in istiod",
);
/// The Services have one port, 8080, which a destination without a port already takes.
const ONE_PORT: (&str, &str) = (
    "spec.http.*.route.*.destination.port.number",
    "the Services have one port, 8080, the one a destination without a port takes",
);

/// An allow-list's patterns, owned.
fn fields(lists: &[&[&str]]) -> Vec<String> {
    lists
        .iter()
        .copied()
        .flatten()
        .map(|p| (*p).to_owned())
        .collect()
}

pub(super) const KINDS: &[Kind] = &[
    Kind {
        name: "VirtualService (mesh)",
        spec: "VirtualServiceSpec",
        base: "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: walk}
spec:
  hosts: [recommendation]
  http:
  - route:
    - destination: {host: recommendation, subset: v1}
      weight: 50
    - destination: {host: recommendation, subset: v2}
      weight: 50
    mirror: {host: recommendation, subset: v3}
    retries: {attempts: 2}
    fault:
      delay:
        fixedDelay: 1s
      abort:
        httpStatus: 503
",
        world: &[SUBSETS, GATEWAY],
        extra: "",
        allowed: || fields(&[n::EGRESS_VS_FIELDS, n::MESH_ONLY_VS_FIELDS]),
        samples: &[
            EXPORT_TO,
            ("spec.hosts.*", "\"preference\""),
            ("spec.gateways.*", "\"customer-gateway\""),
            ("spec.http.*.route.*.destination.subset", "\"v3\""),
            ("spec.http.*.route.*.destination.host", "\"preference\""),
            ("spec.http.*.route.*.destination.port.number", "8080"),
            ("spec.http.*.mirror.subset", "\"v2\""),
            ("spec.http.*.mirror.host", "\"preference\""),
            ("spec.http.*.mirror.port.number", "8080"),
            ("spec.http.*.retries.retryOn", "\"5xx\""),
            ("spec.http.*.fault.abort.httpStatus", "500"),
            ("spec.http.*.corsPolicy.allowMethods.*", "\"GET\""),
            ("spec.http.*.corsPolicy.unmatchedPreflights", "\"IGNORE\""),
        ],
        no_change: &[
            EXPORTED,
            ONE_PORT,
            (
                "spec.http.*.mirror.port.number",
                "the Services have one port, 8080, the one a mirror without a port takes",
            ),
        ],
    },
    Kind {
        name: "VirtualService (redirect)",
        spec: "VirtualServiceSpec",
        base: "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: walk}
spec:
  hosts: [recommendation]
  http:
  - redirect: {authority: moved.example.com}
",
        world: &[SUBSETS, GATEWAY],
        extra: "",
        allowed: || fields(&[n::EGRESS_VS_FIELDS, n::MESH_ONLY_VS_FIELDS]),
        samples: &[
            EXPORT_TO,
            ("spec.hosts.*", "\"preference\""),
            ("spec.gateways.*", "\"customer-gateway\""),
            ("spec.http.*.redirect.redirectCode", "308"),
            ("spec.http.*.redirect.port", "8443"),
            ("spec.http.*.redirect.scheme", "\"https\""),
            ("spec.http.*.redirect.derivePort", "\"FROM_REQUEST_PORT\""),
            ("spec.http.*.redirect.prefixRewrite", "\"/moved\""),
            ("spec.http.*.corsPolicy.allowMethods.*", "\"GET\""),
            ("spec.http.*.corsPolicy.unmatchedPreflights", "\"IGNORE\""),
        ],
        no_change: &[EXPORTED],
    },
    Kind {
        name: "VirtualService (egress)",
        spec: "VirtualServiceSpec",
        base: "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: walk}
spec:
  hosts: [worldclockapi.com]
  http:
  - route:
    - destination: {host: worldclockapi.com}
      weight: 100
    retries: {attempts: 2}
    fault:
      delay:
        fixedDelay: 1s
      abort:
        httpStatus: 503
",
        world: &[WORLDCLOCK],
        extra: "",
        allowed: || fields(&[n::EGRESS_VS_FIELDS]),
        samples: &[
            EXPORT_TO,
            ("spec.hosts.*", "\"worldclockapi.com\""),
            ("spec.gateways.*", "\"mesh\""),
            (
                "spec.http.*.route.*.destination.host",
                "\"worldclockapi.com\"",
            ),
            ("spec.http.*.route.*.destination.port.number", "80"),
            ("spec.http.*.retries.retryOn", "\"5xx\""),
            ("spec.http.*.fault.abort.httpStatus", "500"),
        ],
        no_change: &[
            EXPORTED,
            (
                "spec.hosts.*",
                "the base's own host: a host the ServiceEntry does not open is a translation the egress tests show",
            ),
            (
                "spec.gateways.*",
                "`mesh` is what a VirtualService without gateways is bound to",
            ),
            (
                "spec.http.*.route.*.destination.port.number",
                "the ServiceEntry opens port 80, the one a destination without a port takes",
            ),
            (
                "spec.http.*.route.*.weight",
                "one destination takes every request whatever its weight (route.go builds a plain cluster route)",
            ),
        ],
    },
    Kind {
        name: "DestinationRule",
        spec: "DestinationRuleSpec",
        base: "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: walk}
spec:
  host: recommendation
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
",
        world: &[GATEWAY],
        extra: "",
        allowed: n::dr_fields,
        samples: &[
            EXPORT_TO,
            ("spec.host", "\"preference\""),
            ("spec.trafficPolicy.loadBalancer.simple", "\"RANDOM\""),
            (
                "spec.subsets.*.trafficPolicy.loadBalancer.simple",
                "\"RANDOM\"",
            ),
            // `tls: {}` is DISABLE, the enum's zero value, as in istiod.
            ("spec.trafficPolicy.tls.mode", "\"ISTIO_MUTUAL\""),
            ("spec.subsets.*.trafficPolicy.tls.mode", "\"ISTIO_MUTUAL\""),
            ("spec.subsets.*.labels.**", "{\"version\": \"v3\"}"),
        ],
        no_change: &[
            EXPORTED,
            (
                "spec.trafficPolicy.outlierDetection.consecutiveErrors",
                "deprecated, and read by no istiod translation (cluster_traffic_policy.go `applyOutlierDetection`)",
            ),
            (
                "spec.subsets.*.trafficPolicy.outlierDetection.consecutiveErrors",
                "deprecated, and read by no istiod translation (cluster_traffic_policy.go `applyOutlierDetection`)",
            ),
        ],
    },
    Kind {
        name: "Gateway",
        spec: "GatewaySpec",
        base: "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: walk}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
",
        world: &[],
        extra: "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: walk-routes}
spec:
  hosts: ['*']
  gateways: [walk]
  http:
  - route:
    - destination: {host: customer, port: {number: 8080}}
",
        allowed: || fields(&[n::GATEWAY_FIELDS]),
        samples: &[
            ("spec.servers.*.hosts.*", "\"customer.example.com\""),
            ("spec.servers.*.port.protocol", "\"HTTP\""),
        ],
        no_change: &[],
    },
    Kind {
        name: "ServiceEntry",
        spec: "ServiceEntrySpec",
        base: "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: walk}
spec:
  hosts: [worldclockapi.com]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
  location: MESH_EXTERNAL
",
        world: &[],
        extra: "",
        allowed: || fields(&[n::SERVICE_ENTRY_FIELDS]),
        samples: &[
            EXPORT_TO,
            ("spec.hosts.*", "\"example.org\""),
            ("spec.ports.*.number", "8080"),
            ("spec.ports.*.protocol", "\"HTTP\""),
            ("spec.resolution", "\"NONE\""),
            ("spec.location", "\"MESH_INTERNAL\""),
        ],
        no_change: &[
            EXPORTED,
            (
                "spec.resolution",
                "the lab's internet is a stand-in it resolves itself (docs/LOCAL-MESH.md, Egress): every resolution reaches it",
            ),
            (
                "spec.location",
                "istiod's clusters differ by location only in mTLS to endpoints with a sidecar, which an external host has not (cluster_tls.go)",
            ),
        ],
    },
    Kind {
        name: "Sidecar",
        spec: "SidecarSpec",
        base: "
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: walk}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
",
        world: &[],
        extra: "",
        allowed: || fields(&[n::SIDECAR_FIELDS]),
        samples: &[
            ("spec.egress.*.hosts.*", "\"./*\""),
            ("spec.outboundTrafficPolicy.mode", "\"REGISTRY_ONLY\""),
        ],
        no_change: &[(
            "spec.egress.*.hosts.*",
            "the host lists the lab takes keep the namespace visible, as a Sidecar without `egress` does",
        )],
    },
    Kind {
        name: "PeerAuthentication",
        spec: "PeerAuthenticationSpec",
        base: "
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: walk}
spec:
  mtls: {mode: STRICT}
",
        world: &[],
        extra: "",
        allowed: || fields(&[s::PEER_AUTHENTICATION_FIELDS]),
        samples: &[("spec.mtls.mode", "\"STRICT\"")],
        no_change: &[],
    },
    Kind {
        name: "AuthorizationPolicy",
        spec: "AuthorizationPolicySpec",
        base: "
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: walk}
spec:
  selector:
    matchLabels: {app: recommendation}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/tutorial/sa/preference]
    when:
    - key: request.headers[x-walk]
      values: [yes]
",
        world: &[],
        extra: "",
        allowed: Vec::new,
        samples: &[
            ("spec.rules.*.when.*.key", "\"request.headers[x-other]\""),
            ("spec.action", "\"DENY\""),
            ("spec.selector.matchLabels.**", "{\"app\": \"preference\"}"),
        ],
        no_change: &[],
    },
    Kind {
        name: "RequestAuthentication",
        spec: "RequestAuthenticationSpec",
        base: "
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: walk}
spec:
  selector:
    matchLabels: {app: customer}
  jwtRules:
  - issuer: walk@example.com
    jwksUri: http://keys.example/jwks.json
",
        world: &[],
        extra: "",
        allowed: Vec::new,
        samples: &[],
        no_change: &[],
    },
];
