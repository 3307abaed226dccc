//! IST0130 VirtualServiceUnreachableRule and IST0131 VirtualServiceIneffectiveMatch: an `http` rule after
//! a rule without matches (a catch-all), and a match an earlier rule already has
//! (pkg/config/validation/validation.go `analyzeUnreachableHTTPRules`, whose findings
//! pkg/config/analysis/analyzers/schema/validation.go reports with these codes). The prefix-overlap half of
//! that function (a prefix covered by an earlier, shorter one) is not reproduced.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Level, Message, Object, quote};

/// A rule or match by its `name` (`%q`) or, without one, its index (`#2`): `routeName`, `requestName`.
fn label(v: &Value, index: usize) -> String {
    match v["name"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => quote(n),
        None => format!("#{index}"),
    }
}

fn unreachable_rule(vs: &Object, rule: &str, reason: &str) -> Message {
    let text = format!("VirtualService rule {rule} not used ({reason}).");
    vs.message(Level::Warning, "IST0130", text)
}

/// The findings on `vs`'s `http` rules, in rule order.
pub(super) fn unreachable(vs: &Object) -> Vec<Message> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut catch_all: Option<usize> = None;
    let rules: Vec<&Value> = vs.spec["http"].as_array().into_iter().flatten().collect();
    for (n, rule) in rules.iter().enumerate() {
        let matches: Vec<&Value> = rule["match"].as_array().into_iter().flatten().collect();
        if matches.is_empty() {
            if catch_all.is_some() {
                let reason = "only the last rule can have no matches";
                out.push(unreachable_rule(vs, &label(rule, n), reason));
            }
            catch_all = Some(n);
            continue;
        }
        let mut duplicates = 0;
        for (m, request) in matches.iter().enumerate() {
            if catch_all.is_some() {
                let reason = "route without matches defined before";
                out.push(unreachable_rule(vs, &label(rule, n), reason));
                continue;
            }
            let key = request.to_string();
            match seen.get(&key) {
                Some(&dup) => {
                    let text = format!(
                        "VirtualService rule {} match {} is not used (duplicate/overlapping match in rule {}).",
                        label(rule, n),
                        label(request, m),
                        label(rules[dup], dup)
                    );
                    out.push(vs.message(Level::Info, "IST0131", text));
                    duplicates += 1;
                }
                None => {
                    seen.insert(key, n);
                }
            }
        }
        if duplicates == matches.len() {
            out.push(unreachable_rule(
                vs,
                &label(rule, n),
                "all matches used by prior rules",
            ));
        }
    }
    out
}
