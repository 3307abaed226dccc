//! What `mesh-lab up` and `mesh-lab guided` serve beside a running lab: the control endpoint (with the
//! secret every command sends, `crate::lab::access`) and the traffic graph, and the lines that say where.
//! [`Endpoints::bind`] takes the ports before any Envoy starts, so a taken port fails at once naming its
//! flag; [`Endpoints::serve`] starts both servers on the lab; [`Serving::stop`] ends them.

use std::net::{SocketAddr, TcpListener};

use anyhow::anyhow;

use crate::cli::control;
use crate::lab::Lab;
use crate::lab::access::{ControlSecret, SecretFile};

/// The control endpoint's socket (bound), the graph's address (checked), the secret (written).
pub struct Endpoints {
    control: TcpListener,
    /// As given (`127.0.0.1:15080`): what the ready-to-paste line names.
    control_addr: String,
    graph: SocketAddr,
    secret: ControlSecret,
    secret_file: SecretFile,
}

/// The two servers, running.
pub struct Serving {
    control: actix_web::dev::ServerHandle,
    graph: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Where the graph page is (the port `--graph-port 0` became).
    pub graph_addr: SocketAddr,
    pub control_addr: String,
    /// Removed when serving ends, however it ends.
    _secret_file: SecretFile,
}

impl Endpoints {
    /// Binds the control endpoint on `addr` (kept bound: a command sent while the lab starts waits for it),
    /// checks that the graph's port is free (0 is bound for real when serving) and writes the control secret
    /// where only this user reads it.
    pub fn bind(addr: &str, graph_port: u16) -> anyhow::Result<Self> {
        let control_addr: SocketAddr =
            addr.parse().map_err(|e| anyhow!("--control {addr}: {e}"))?;
        let graph = SocketAddr::from(([127, 0, 0, 1], graph_port));
        if graph_port != 0 {
            drop(TcpListener::bind(graph).map_err(|e| {
                anyhow!("the graph cannot listen on {graph} ({e}; another `mesh-lab up` or `guided`, or Kiali?): pass --graph-port PORT (0 = any free one)")
            })?);
        }
        let control = TcpListener::bind(control_addr).map_err(|e| {
            anyhow!(
                "the control endpoint cannot listen on {addr} ({e}; another `mesh-lab up` or `guided`?): pass --control ADDR or set {}",
                control::ENV_CONTROL
            )
        })?;
        // Right after the bind: a command that finds the port listening finds the secret too.
        let secret = ControlSecret::generate()?;
        let secret_file = secret.write(control_addr.port())?;
        Ok(Self {
            control,
            control_addr: addr.to_owned(),
            graph,
            secret,
            secret_file,
        })
    }

    /// Serves the graph and the control endpoint of `lab` until [`Serving::stop`].
    pub fn serve(self, lab: &Lab) -> anyhow::Result<Serving> {
        let (graph, graph_addr) = crate::observe::graph::serve(lab.clone(), self.graph)?;
        let control = control::serve_on(lab.clone(), self.control, self.secret)?;
        let handles = (control.handle(), graph.handle());
        Ok(Serving {
            control: handles.0,
            graph: handles.1,
            tasks: vec![tokio::spawn(control), tokio::spawn(graph)],
            graph_addr,
            control_addr: self.control_addr,
            _secret_file: self.secret_file,
        })
    }
}

impl Serving {
    /// The lines that say where everything is, ending with the ready-to-paste `export` line.
    pub fn banner(&self, lab: &Lab) -> String {
        let url = &lab.gateway_url;
        let addr = &self.control_addr;
        [
            format!(
                "local mesh up (Envoy {})",
                crate::dataplane::envoy::version(&lab.envoy_bin)
            ),
            format!("  gateway:  {url}   e.g. sh scripts/run.sh 4 {url}"),
            format!(
                "  stand-in time API (worldclockapi.com on the lab's internet): {}",
                lab.standin_url
            ),
            format!(
                "  graph:    http://{}/  (the traffic graph, like Kiali; JSON: /api/graph)",
                self.graph_addr
            ),
            format!("  files:    {}", lab.dir.display()),
            format!(
                "  control:  http://{addr}  (mesh-lab apply/delete/mode/show/logs/fault/reset)"
            ),
            format!("  export GATEWAY_URL={url} MESH_LAB_CONTROL={addr}"),
        ]
        .join("\n")
    }

    /// Stops both servers (requests in flight finish first).
    pub async fn stop(self) {
        self.control.stop(true).await;
        self.graph.stop(true).await;
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
