//! Only the lab's own command line drives it: the control endpoint's secret and its request checks.
//!
//! `mesh-lab up` makes a random secret and writes it where only its user can read it: a file named for the
//! control port in a private directory (`$XDG_RUNTIME_DIR/mesh-lab/`, else `<temp dir>/mesh-lab-<uid>/`;
//! the directory 0700, the file 0600 from its first byte), removed when the lab stops. Every command reads it
//! from there (or from `$MESH_LAB_SECRET`) and sends it as a bearer token. The endpoint answers 401 to a
//! request without it, compared in constant time, and 403 to one whose `Host` is not the loopback address or
//! `localhost` (a DNS-rebinding page) or that carries an `Origin` (a web page: the command line sends none).
//! So a page the learner opens cannot reset or drive the lab, nor can another user of a shared machine.

use std::path::{Path, PathBuf};

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use anyhow::{Context, bail};

/// Overrides the secret file for every command (another user's lab, a container).
pub const ENV_SECRET: &str = "MESH_LAB_SECRET";

/// The control endpoint's secret.
#[derive(Clone)]
pub struct ControlSecret(String);

impl std::fmt::Debug for ControlSecret {
    /// Never the value: it does not belong in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlSecret(…)")
    }
}

impl ControlSecret {
    /// 32 random bytes from the system's generator, as hex.
    pub fn generate() -> anyhow::Result<Self> {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("the system's random generator failed"))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The secret a command sends to the lab at `control` (`host:port`): `$MESH_LAB_SECRET`, else the file
    /// `mesh-lab up` wrote for that port; `None` when neither is there (the lab then answers 401 and says why).
    pub fn for_client(control: &str) -> Option<Self> {
        if let Some(s) = std::env::var(ENV_SECRET).ok().filter(|s| !s.is_empty()) {
            return Some(Self(s));
        }
        let file = secret_file(port_of(control)?).ok()?;
        let text = std::fs::read_to_string(file).ok()?;
        Some(Self(text.trim().to_owned()))
    }

    /// Writes the secret for the lab listening on `port`, readable by this user only; the file goes when
    /// the returned [`SecretFile`] is dropped, however the lab ends.
    pub fn write(&self, port: u16) -> anyhow::Result<SecretFile> {
        let file = secret_file(port)?;
        crate::dataplane::files::write_atomically(&file, self.0.as_bytes(), true)
            .with_context(|| format!("writing the control secret {}", file.display()))?;
        Ok(SecretFile(file))
    }

    /// `Authorization: Bearer <secret>`.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Does `given` (a request's `Authorization`) carry this secret? In constant time over the secret.
    pub fn admits(&self, given: Option<&str>) -> bool {
        let given = given.and_then(|g| g.strip_prefix("Bearer ")).unwrap_or("");
        constant_time_eq(given.as_bytes(), self.0.as_bytes())
    }
}

/// The secret's file, removed when dropped.
#[derive(Debug)]
pub struct SecretFile(PathBuf);

impl SecretFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Equal bytes, without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The port of `host:port` (or `http://host:port/`).
fn port_of(control: &str) -> Option<u16> {
    control
        .trim_end_matches('/')
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

/// The file of the lab on `port`, in the user's private directory (made 0700 when missing; refused when
/// another user owns it or others may read it).
pub fn secret_file(port: u16) -> anyhow::Result<PathBuf> {
    let dir = private_dir()?;
    Ok(dir.join(format!("control-{port}")))
}

fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = crate::dataplane::files::user_id().context("reading this process's user")?;
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => Path::new(&d).join("mesh-lab"),
        None => std::env::temp_dir().join(format!("mesh-lab-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("creating {}", dir.display()));
        }
        _ => {}
    }
    let meta =
        std::fs::symlink_metadata(&dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} must be a directory of this user's that others cannot read (mode 0700): remove it and run again",
            dir.display()
        );
    }
    Ok(dir)
}

/// The loopback names a command line reaches the lab by.
fn loopback_host(host: &str, port: u16) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| host == format!("{h}:{port}") || host == *h)
}

/// Serves `service` only to requests [`refusal`] lets through (actix-web's `from_fn` middleware).
pub async fn guard<B: MessageBody + 'static>(
    secret: Option<ControlSecret>,
    port: u16,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    match refusal(&req, secret.as_ref(), port) {
        Some(answer) => Ok(req.into_response(answer).map_into_right_body()),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

/// Why the request may not drive the lab, as the answer to send; `None`: it may. `secret` `None`: the
/// graph's page, whose own script may read it (an `Origin` naming the page's own address is taken).
pub fn refusal(
    req: &ServiceRequest,
    secret: Option<&ControlSecret>,
    port: u16,
) -> Option<HttpResponse> {
    let get = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(s) = secret
        && !s.admits(get(header::AUTHORIZATION))
    {
        return Some(HttpResponse::Unauthorized().body(format!(
            "this lab's control endpoint takes commands from its own command line only: run mesh-lab as the \
             user who ran `mesh-lab up` (it reads the secret from {}), or set {ENV_SECRET}\n",
            secret_file(port).map_or_else(|e| e.to_string(), |f| f.display().to_string())
        )));
    }
    let host = get(header::HOST).unwrap_or("");
    if !loopback_host(host, port) {
        return Some(HttpResponse::Forbidden().body(format!(
            "Host {host:?} is not this lab's loopback address (127.0.0.1:{port} or localhost:{port})\n"
        )));
    }
    if let Some(origin) = get(header::ORIGIN)
        && (secret.is_some() || origin != format!("http://{host}"))
    {
        return Some(HttpResponse::Forbidden().body(format!(
            "a request from a web page (Origin {origin:?}) may not drive the lab\n"
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_admitted_only_whole_and_as_a_bearer_token() {
        let s = ControlSecret("00ff".into());
        assert!(s.admits(Some("Bearer 00ff")));
        for wrong in [
            None,
            Some("00ff"),
            Some("Bearer 00fe"),
            Some("Bearer 00ff0"),
            Some("Bearer "),
        ] {
            assert!(!s.admits(wrong), "{wrong:?}");
        }
        assert_eq!(format!("{s:?}"), "ControlSecret(…)");
        let g = ControlSecret::generate().unwrap();
        assert_eq!(g.0.len(), 64);
        assert_ne!(g.0, ControlSecret::generate().unwrap().0);
    }

    #[test]
    fn only_loopback_hosts_of_the_port_are_the_labs() {
        for ok in [
            "127.0.0.1:15080",
            "localhost:15080",
            "[::1]:15080",
            "localhost",
        ] {
            assert!(loopback_host(ok, 15080), "{ok}");
        }
        for bad in ["evil.example:15080", "127.0.0.1:80", "10.0.0.1:15080", ""] {
            assert!(!loopback_host(bad, 15080), "{bad}");
        }
        assert_eq!(port_of("127.0.0.1:15080"), Some(15080));
        assert_eq!(port_of("http://127.0.0.1:15080/"), Some(15080));
    }
}
