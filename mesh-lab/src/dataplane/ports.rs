//! Loopback ports for the lab's listeners (apps, sidecars, kube-proxy's ClusterIPs), handed out once each
//! and taken below the kernel's ephemeral range.

use std::net::TcpListener;

use anyhow::{anyhow, bail};

/// Ports [`free_port`] has handed out in this process: never twice, so two labs (tests) side by side,
/// or two listeners of one lab, never share one.
static HANDED_OUT: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<u16>>> =
    std::sync::LazyLock::new(Default::default);

/// Where [`free_port`] looks: from here up to the kernel's ephemeral range (above Kiali's 20001 and Istio's
/// 15000s, which a learner may bind by name).
const FIRST_PORT: u16 = 21000;

/// A free loopback port, not handed out before: an app or Envoy binds it right after.
///
/// It is taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where no `bind(0)` and
/// no outgoing connection of any process lands: a port from `bind(0)`, released and handed on, could be
/// taken by another process's connection or `bind(0)` before Envoy binds it ("Address already in use").
/// Each process starts at its own point in the range, so labs of several processes rarely meet; a port
/// some process holds fails the bind check and is skipped.
pub fn free_port() -> anyhow::Result<u16> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let last = ephemeral_start().min(u16::MAX as usize);
    let span = last.saturating_sub(FIRST_PORT as usize);
    if span < 1000 {
        return ephemeral_port();
    }
    let _ = NEXT.compare_exchange(
        usize::MAX,
        std::process::id() as usize * 7919 % span,
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
    );
    for _ in 0..span {
        let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (FIRST_PORT as usize + i % span) as u16;
        let fresh = HANDED_OUT
            .lock()
            .map_err(|_| anyhow!("port registry poisoned"))?
            .insert(port);
        if fresh && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port between {FIRST_PORT} and {last}")
}

/// The first port of the kernel's ephemeral range (32768 where it cannot be read).
fn ephemeral_start() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A port from the kernel (`bind(0)`), for a machine whose ephemeral range leaves no room below it.
fn ephemeral_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if HANDED_OUT
            .lock()
            .map_err(|_| anyhow!("port registry poisoned"))?
            .insert(port)
        {
            return Ok(port);
        }
    }
    bail!("no free loopback port after 100 tries")
}

#[cfg(test)]
mod tests {
    use super::{FIRST_PORT, ephemeral_start, free_port};

    #[test]
    fn free_ports_lie_below_the_ephemeral_range_are_bindable_and_never_handed_out_twice() {
        let start = ephemeral_start();
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let unique: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(
            unique.len(),
            ports.len(),
            "a port handed out twice: {ports:?}"
        );
        assert!(
            ports
                .iter()
                .all(|p| *p >= FIRST_PORT && usize::from(*p) < start),
            "outside {FIRST_PORT}..{start}: {ports:?}"
        );
        for p in ports {
            std::net::TcpListener::bind(("127.0.0.1", p))
                .unwrap_or_else(|e| panic!("port {p} is not free: {e}"));
        }
    }
}
