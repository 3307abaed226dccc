//! The fault filter's per-route configuration, after istiod's pilot/pkg/networking/core/route/route.go
//! `TranslateFault` (delay and abort, percentages as millionths or, for the deprecated integer `percent`,
//! hundredths).

use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualServiceHttpFault;
use serde_json::{Value, json};

use crate::networking::core::route::duration::duration_field;
use crate::networking::core::route::{integer_percent, percent};

/// The HTTP fault filter's name, in a listener's filter chain and in a route's per-filter config.
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";
/// The type of the fault filter's configuration.
pub const FAULT_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

/// `TranslateFault`: the fault filter's per-route config.
pub fn fault_config(f: &VirtualServiceHttpFault) -> Result<Value, String> {
    let mut out = json!({"@type": FAULT_TYPE});
    if let Some(d) = &f.delay {
        let fixed = d
            .fixed_delay
            .as_deref()
            .ok_or("fault.delay needs fixedDelay")?;
        let pct = match (&d.percentage, d.percent) {
            (Some(p), _) => percent(p.value.unwrap_or(0.0)),
            (None, p) => integer_percent(i64::from(p.unwrap_or(0))),
        };
        out["delay"] = json!({
            "fixed_delay": duration_field("fault.delay.fixedDelay", fixed)?,
            "percentage": pct,
        });
    }
    if let Some(a) = &f.abort {
        let status = a.http_status.ok_or("fault.abort needs httpStatus")?;
        let mut abort = json!({"http_status": status});
        if let Some(p) = &a.percentage {
            abort["percentage"] = percent(p.value.unwrap_or(0.0));
        }
        out["abort"] = abort;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
