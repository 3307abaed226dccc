//! `istioctl analyze` on the running lab (istioctl/pkg/analyze/analyze.go): the objects a cluster's
//! analysis reads — the applied ones and the registry's Services, as the `Service` objects they were read
//! from — with files' objects over them, through mesh-istiod's analysers (mesh-istiod/src/config/analysis).

use mesh_istiod::config::analysis::{self, Message, Source};
use mesh_istiod::model::registry::ServiceDef;
use mesh_manifests::Resource;

use crate::lab::Lab;

impl Lab {
    /// istioctl analyze's messages on the lab's objects with `sources`' over them; `Err` a file that does not
    /// parse.
    pub async fn analyze(&self, sources: &[Source]) -> anyhow::Result<Vec<Message>> {
        let resources: Vec<Resource> = {
            let inner = self.inner.lock().await;
            let services = inner.services.iter().map(service_object);
            let applied = inner.state.objects.iter().map(|o| o.resource.clone());
            services.chain(applied).collect()
        };
        analysis::analyze_files(resources, sources).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A registry Service as the `Service` object it was read from (name, port, selector).
fn service_object(s: &ServiceDef) -> Resource {
    use mesh_manifests::k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
    let spec = ServiceSpec {
        ports: Some(vec![ServicePort {
            port: s.port.into(),
            ..ServicePort::default()
        }]),
        selector: Some(s.selector.clone()),
        ..ServiceSpec::default()
    };
    let mut service = Service {
        spec: Some(spec),
        ..Service::default()
    };
    service.metadata.name = Some(s.name.clone());
    Resource::Service(Box::new(service))
}
