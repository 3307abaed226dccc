//! A route's retry policy, after istiod's pilot/pkg/networking/core/route/retry/retry.go: `DefaultPolicy`
//! (with `EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY` on, as istiod from 1.24; before, as Istio 1.20's
//! pilot/pkg/networking/core/v1alpha3/route/retry/retry.go, it also holds `retriable_status_codes: [503]`,
//! which `ConvertPolicy` keeps unless `retryOn` is given: [`IstioRelease`]) and `ConvertPolicy` with
//! `parseRetryOn` (status codes move to `retriable_status_codes`; `attempts: 0` means no policy;
//! `retryRemoteLocalities: true` adds the `previous_priorities` retry priority with istiod's
//! `buildPreviousPrioritiesConfig`, `update_frequency: 2`).

use envoy_types::pb::envoy::config::route::v3::RetryPolicy;
use envoy_types::pb::envoy::config::route::v3::retry_policy::{
    RetryHostPredicate, RetryPriority, retry_host_predicate, retry_priority,
};
use envoy_types::pb::envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate;
use envoy_types::pb::envoy::extensions::retry::priority::previous_priorities::v3::PreviousPrioritiesConfig;
use envoy_types::pb::google::protobuf::UInt32Value;
use envoy_types::util::pack_any;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualServiceHttpRetries;

use crate::model::release::IstioRelease;
use crate::networking::core::route::duration::duration;

const PREVIOUS_HOSTS: &str = "envoy.retry_host_predicates.previous_hosts";
const PREVIOUS_PRIORITIES: &str = "envoy.retry_priorities.previous_priorities";

/// istiod's default retry policy for outbound routes (route/retry/retry.go `DefaultPolicy`) in `istio`.
pub fn default_retry_policy(istio: IstioRelease) -> RetryPolicy {
    RetryPolicy {
        retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
            .into(),
        num_retries: Some(UInt32Value { value: 2 }),
        host_selection_retry_max_attempts: 5,
        retry_host_predicate: vec![RetryHostPredicate {
            name: PREVIOUS_HOSTS.into(),
            config_type: Some(retry_host_predicate::ConfigType::TypedConfig(pack_any(
                PreviousHostsPredicate::default(),
            ))),
        }],
        retriable_status_codes: if istio.retries_503_by_default() {
            vec![503]
        } else {
            Vec::new()
        },
        ..RetryPolicy::default()
    }
}

/// istiod's `ConvertPolicy` in `istio`: `None` means "no retry policy at all" (attempts 0).
pub fn retry_policy(
    r: Option<&VirtualServiceHttpRetries>,
    istio: IstioRelease,
) -> Result<Option<RetryPolicy>, String> {
    let mut out = default_retry_policy(istio);
    let Some(r) = r else { return Ok(Some(out)) };
    let attempts = r.attempts.unwrap_or(0);
    if attempts <= 0 {
        return Ok(None);
    }
    let value = u32::try_from(attempts).map_err(|_| format!("retries.attempts {attempts}"))?;
    out.num_retries = Some(UInt32Value { value });
    if let Some(on) = r.retry_on.as_deref().filter(|s| !s.is_empty()) {
        // `out.RetryOn, out.RetriableStatusCodes = parseRetryOn(...)`: the default's 503 goes too.
        (out.retry_on, out.retriable_status_codes) = parse_retry_on(on);
    }
    if let Some(t) = r.per_try_timeout.as_deref() {
        out.per_try_timeout = Some(duration("retries.perTryTimeout", t)?);
    }
    if r.retry_remote_localities == Some(true) {
        out.retry_priority = Some(RetryPriority {
            name: PREVIOUS_PRIORITIES.into(),
            config_type: Some(retry_priority::ConfigType::TypedConfig(pack_any(
                PreviousPrioritiesConfig {
                    update_frequency: 2,
                },
            ))),
        });
    }
    Ok(Some(out))
}

/// `parseRetryOn`: the comma-separated `retryOn` → Envoy's `retry_on` and the HTTP status codes in it
/// (which also name `retriable-status-codes`).
fn parse_retry_on(on: &str) -> (String, Vec<u32>) {
    let (mut names, mut codes) = (Vec::new(), Vec::new());
    for part in on.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u32>() {
            Ok(code) if (100..600).contains(&code) => codes.push(code),
            _ => names.push(part.to_owned()),
        }
    }
    let mut retry_on = names.join(",");
    if !codes.is_empty() && !retry_on.contains("retriable-status-codes") {
        retry_on.push_str(",retriable-status-codes");
    }
    (retry_on, codes)
}

#[cfg(test)]
mod tests;
