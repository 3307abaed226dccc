//! The fault filter's per-route configuration, after istiod's pilot/pkg/networking/core/route/route.go
//! `TranslateFault` (delay and abort, percentages as millionths or, for the deprecated integer `percent`,
//! hundredths).

use envoy_types::pb::envoy::extensions::filters::common::fault::v3::FaultDelay;
use envoy_types::pb::envoy::extensions::filters::common::fault::v3::fault_delay::FaultDelaySecifier;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::fault_abort::ErrorType;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{FaultAbort, HttpFault};
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualServiceHttpFault;

use crate::networking::core::route::duration::duration;
use crate::networking::core::route::{integer_percent, percent};

/// The HTTP fault filter's name, in a listener's filter chain and in a route's per-filter config.
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";
/// The type of the fault filter's configuration.
pub const FAULT_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

/// `TranslateFault`: the fault filter's per-route config.
pub fn fault_config(f: &VirtualServiceHttpFault) -> Result<HttpFault, String> {
    let mut out = HttpFault::default();
    if let Some(d) = &f.delay {
        let fixed = d
            .fixed_delay
            .as_deref()
            .ok_or("fault.delay needs fixedDelay")?;
        let pct = match (&d.percentage, d.percent) {
            (Some(p), _) => percent(p.value.unwrap_or(0.0)),
            (None, p) => integer_percent(i64::from(p.unwrap_or(0))),
        };
        out.delay = Some(FaultDelay {
            fault_delay_secifier: Some(FaultDelaySecifier::FixedDelay(duration(
                "fault.delay.fixedDelay",
                fixed,
            )?)),
            percentage: Some(pct),
        });
    }
    if let Some(a) = &f.abort {
        let status = a.http_status.ok_or("fault.abort needs httpStatus")?;
        let status =
            u32::try_from(status).map_err(|_| format!("fault.abort.httpStatus {status}"))?;
        out.abort = Some(FaultAbort {
            error_type: Some(ErrorType::HttpStatus(status)),
            percentage: a
                .percentage
                .as_ref()
                .map(|p| percent(p.value.unwrap_or(0.0))),
            ..FaultAbort::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
