//! What the two bench-only hop binaries (`bare-chain`, `probe`) share: their environment and the answer of a hop.

/// The environment both read, for their `--help`.
const ENV_HELP: &str = "
Environment:
  PORT          port to listen on (default 8080, 0 = any free one)
  BIND_ADDRESS  address to listen on (default 127.0.0.1)
  NEXT_URL      next hop to call (unset: answer like recommendation v1)
  NAME          prefix of a relaying hop's body (default customer)
  HOSTNAME      name in the last hop's body (default unknown)
";

/// With `--help` or `-h` as the first argument: prints `intro` and [`ENV_HELP`] and returns true.
pub fn answered_help(intro: &str) -> bool {
    let asked = std::env::args()
        .nth(1)
        .is_some_and(|a| a == "--help" || a == "-h");
    if asked {
        print!("{intro}{ENV_HELP}");
    }
    asked
}

/// `name` from the environment, `default` when unset.
pub fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The last hop's body before its count: `recommendation v1 from '<HOSTNAME>': `.
pub fn last_body_prefix() -> String {
    format!("recommendation v1 from '{}': ", env("HOSTNAME", "unknown"))
}

/// A relaying hop's answer (status, body) from what the next hop answered (status, body) or why it could not.
pub fn relay_answer(prefix: &str, reply: Result<(u16, &[u8]), String>) -> (u16, String) {
    match reply {
        Ok((status, body)) if (200..300).contains(&status) => {
            let body = String::from_utf8_lossy(body);
            (200, format!("{prefix} => {}\n", body.trim_end()))
        }
        Ok((status, _)) => (503, format!("{prefix} => Error: {status}\n")),
        Err(e) => (503, format!("{prefix} => {e}\n")),
    }
}
