//! A lab with its control endpoint, as `mesh-lab up` serves it, and the built `mesh-lab` binary run against
//! it: what the tests of the command line share.

use mesh_lab::Lab;

use crate::lab;

/// A lab with its control endpoint, as `mesh-lab up` serves it.
pub(crate) struct Served {
    pub(crate) lab: Lab,
    pub(crate) addr: String,
    /// The control secret's file, as `mesh-lab up` writes it.
    pub(crate) secret_file: mesh_lab::lab::access::SecretFile,
    handle: actix_web::dev::ServerHandle,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    pub(crate) async fn start() -> Self {
        let lab = lab().await;
        let addr: std::net::SocketAddr = (
            [127, 0, 0, 1],
            mesh_lab::dataplane::ports::free_port().unwrap(),
        )
            .into();
        // As `mesh-lab up`: the port bound, then the secret written where the commands look for it.
        let secret = mesh_lab::lab::access::ControlSecret::generate().unwrap();
        let server = mesh_lab::cli::control::serve(lab.clone(), addr, secret.clone()).unwrap();
        let secret_file = secret.write(addr.port()).unwrap();
        let handle = server.handle();
        let serving = tokio::spawn(server);
        Self {
            lab,
            addr: addr.to_string(),
            secret_file,
            handle,
            serving,
        }
    }

    /// `mesh-lab ARGS…`: its exit code, stdout and stderr.
    pub(crate) async fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_with(args, "").await
    }

    /// `mesh-lab ARGS…` with `stdin` on its standard input (bounded to 30 s).
    pub(crate) async fn run_with(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let mut child = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
            .args(args)
            .env(mesh_lab::cli::control::ENV_CONTROL, &self.addr)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_owned();
        let waiting = tokio::task::spawn_blocking(move || {
            std::io::Write::write_all(&mut input, stdin.as_bytes()).unwrap();
            drop(input);
            child.wait_with_output().unwrap()
        });
        let out = tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("mesh-lab {args:?} did not exit within 30 s"))
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// The client every `mesh-lab` command but `up` uses, for this lab.
    pub(crate) fn client(&self) -> mesh_lab::cli::control::Client {
        mesh_lab::cli::control::Client::new(&self.addr).unwrap()
    }

    /// Stops the control endpoint (which must have served without an error), then the lab.
    pub(crate) async fn stop(self) {
        self.handle.stop(true).await;
        self.serving.await.unwrap().unwrap();
        self.lab.stop().await;
    }
}
