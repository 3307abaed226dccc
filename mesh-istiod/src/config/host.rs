//! Host names and their wildcards, after pkg/config/host/name.go (`Name.SubsetOf`, `IsWildCarded`) and
//! names.go (`Names.Intersection`, `NamesForNamespace`): `*` covers every host, `*.example.com` every host
//! ending in `.example.com` (and the narrower wildcards such as `*.a.example.com`), a plain name only itself.

/// `Name.IsWildCarded`: the name starts with `*`.
pub fn is_wildcarded(name: &str) -> bool {
    name.starts_with('*')
}

/// `Name.SubsetOf`: every host `name` covers is covered by `other` (case-sensitive, as istiod compares).
pub fn subset_of(name: &str, other: &str) -> bool {
    match (is_wildcarded(name), is_wildcarded(other)) {
        (true, true) => name.len() >= other.len() && name[1..].ends_with(&other[1..]),
        (true, false) => false,
        (false, true) => name.ends_with(&other[1..]),
        (false, false) => name == other,
    }
}

/// names.go `MoreSpecific` as the order of `sort.Sort(Names)`: plain names before wildcards, then longest
/// first, then alphabetically.
pub fn more_specific(a: &str, b: &str) -> std::cmp::Ordering {
    is_wildcarded(a)
        .cmp(&is_wildcarded(b))
        .then(b.len().cmp(&a.len()))
        .then(a.cmp(b))
}

/// `Names.Intersection`: for each pair of `hosts` and `other`, the more specific of the two when one covers the
/// other, in `hosts`' order, each once.
pub fn intersection<'a>(hosts: &[&'a str], other: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for &h in hosts {
        for &o in other {
            let narrower = if subset_of(h, o) {
                h
            } else if subset_of(o, h) {
                o
            } else {
                continue;
            };
            if !out.contains(&narrower) {
                out.push(narrower);
            }
        }
    }
    out
}

/// `NamesForNamespace` after model/gateway.go `sanitizeServerHostNamespace`: a Gateway server's hosts that
/// objects of `namespace` may use. `./host` is the Gateway's own namespace (`gateway_ns`), `*/host` and a bare
/// `host` every namespace, `*/*` the single host `*`, `other/host` only `other`.
pub fn names_for_namespace<'a>(
    hosts: &'a [String],
    gateway_ns: &str,
    namespace: &str,
) -> Vec<&'a str> {
    if hosts.iter().any(|h| h == "*/*") {
        return vec!["*"];
    }
    hosts
        .iter()
        .filter_map(|h| match h.split_once('/') {
            Some((".", name)) if gateway_ns == namespace => Some(name),
            Some(("*", name)) => Some(name),
            Some((ns, name)) if ns == namespace => Some(name),
            Some(_) => None,
            None => Some(h.as_str()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_of_follows_istiods_wildcards() {
        assert!(subset_of("customer.example.com", "*"));
        assert!(subset_of("customer.example.com", "*.example.com"));
        assert!(!subset_of("example.com", "*.example.com"));
        assert!(subset_of("*.a.example.com", "*.example.com"));
        assert!(!subset_of("*.example.com", "*.a.example.com"));
        assert!(subset_of("*.example.com", "*"));
        assert!(!subset_of("*", "customer.example.com"));
        assert!(!subset_of("a.example.com", "b.example.com"));
        assert!(subset_of("*", "*"));
    }

    #[test]
    fn more_specific_sorts_plain_names_longest_first_and_wildcards_last() {
        let mut names = ["*", "b.com", "*.example.com", "a.com", "long.example.com"];
        names.sort_by(|a, b| more_specific(a, b));
        assert_eq!(
            names,
            ["long.example.com", "a.com", "b.com", "*.example.com", "*"]
        );
    }

    #[test]
    fn the_intersection_keeps_the_more_specific_host_once() {
        assert_eq!(
            intersection(&["customer.example.com"], &["*"]),
            ["customer.example.com"]
        );
        assert_eq!(
            intersection(&["*"], &["b.example.com", "a.example.com"]),
            ["b.example.com", "a.example.com"]
        );
        assert_eq!(
            intersection(&["*.example.com", "*"], &["*.a.example.com", "other.org"]),
            ["*.a.example.com", "other.org"]
        );
        assert!(intersection(&["*.example.com"], &["example.org"]).is_empty());
    }

    #[test]
    fn server_hosts_are_read_for_a_namespace() {
        let hosts: Vec<String> = [
            "./a.com",
            "*/b.com",
            "c.com",
            "tutorial/d.com",
            "istio-system/e.com",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            names_for_namespace(&hosts, "tutorial", "tutorial"),
            ["a.com", "b.com", "c.com", "d.com"]
        );
        assert_eq!(
            names_for_namespace(
                &["*/*".to_owned(), "a.com".to_owned()],
                "tutorial",
                "tutorial"
            ),
            ["*"]
        );
    }
}
