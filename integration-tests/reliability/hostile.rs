//! Hostile clients on raw sockets: oversized and too many headers, non-UTF-8 and control bytes in the headers the
//! chain propagates, request smuggling, slowloris. Each ends in a 4xx or a closed connection (or, for legal but odd
//! bytes, the normal answer), the process keeps serving others, and none of it reaches bodies or logs raw.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use integration_tests::{
    http::{body_of, parse_status},
    process::{ProcChain, start, start_chain},
};

use crate::util::{Outcome, addr, raw_exchange, read_answer};

const WITHIN: Duration = Duration::from_secs(5);

/// The chain as three processes, every log level on so that anything logged about a request shows.
/// `NO_COLOR`: the text format's own colour codes would hide an escape sequence coming from a client.
fn chain(host: &str) -> ProcChain {
    let log = [("RUST_LOG", "trace"), ("NO_COLOR", "1")];
    start_chain(&log, [&[], &[], &[("HOSTNAME", host)]])
}

fn get_request(extra_headers: &[u8]) -> Vec<u8> {
    let mut r = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    r.extend_from_slice(extra_headers);
    r.extend_from_slice(b"\r\n");
    r
}

/// A normal request still gets the normal chain answer, and recommendation logs it (its log stream is intact).
fn still_serves(procs: &mut ProcChain, host: &str, what: &str) {
    for p in [
        &mut procs.customer,
        &mut procs.preference,
        &mut procs.recommendation,
    ] {
        assert!(
            p.child.try_wait().unwrap().is_none(),
            "{what}: a process died"
        );
    }
    let out = raw_exchange(addr(&procs.customer.url), &get_request(b""), WITHIN);
    let Outcome::Answered { status: 200, raw } = &out else {
        panic!("{what}: a normal request afterwards got {out:?}");
    };
    let body = body_of(raw);
    let prefix = format!("customer => preference => recommendation v1 from '{host}': ");
    assert!(
        body.starts_with(&prefix) && body.ends_with('\n'),
        "{what}: {body:?}"
    );
    let count = body[prefix.len()..].trim_end();
    procs.recommendation.wait_for_line(
        &format!("recommendation request from {host}: {count}"),
        WITHIN,
    );
}

/// Everything each process logged; asserts none of it carries the hostile bytes.
fn assert_logs_clean(procs: ProcChain, markers: &[&str]) {
    let all = procs.finish();
    assert!(!all.is_empty(), "logs were captured");
    for line in &all {
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{FFFD}'),
            "a raw control or invalid byte reached the logs: {line:?}"
        );
        for m in markers {
            assert!(!line.contains(m), "{m} reached the logs: {line:?}");
        }
    }
}

#[test]
fn oversized_and_too_many_headers_are_rejected() {
    let host = "hostile-size";
    let mut procs = chain(host);
    let cust = addr(&procs.customer.url);
    let big = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    let many: String = (0..1000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big_ua = format!("User-Agent: {}\r\n", "M".repeat(64 * 1024));
    for (what, headers) in [
        ("64 KiB header", big.as_bytes()),
        ("1000 headers", many.as_bytes()),
        ("64 KiB user-agent", big_ua.as_bytes()),
    ] {
        let out = raw_exchange(cust, &get_request(headers), WITHIN);
        assert!(
            out.rejected(),
            "{what}: wanted a 4xx or a close, got {out:?}"
        );
        still_serves(&mut procs, host, what);
    }
    assert_logs_clean(procs, &["aaaaaaaaaaaaaaaa", "MMMMMMMMMMMMMMMM"]);
}

#[test]
fn odd_bytes_in_propagated_headers_never_reach_bodies_or_logs() {
    let host = "hostile-bytes";
    let mut procs = chain(host);
    let cust = addr(&procs.customer.url);
    // Bytes 0x80-0xff are legal (obs-text) in a header value, but not UTF-8; ESC and NUL are not legal at all.
    let cases: [(&str, &[u8]); 4] = [
        (
            "non-UTF-8 user-agent",
            b"User-Agent: Safari\xff\xfe\xc3\x28EVIL1\r\n",
        ),
        (
            "non-UTF-8 user-preference",
            b"User-Preference: \xc3\x28\xa0\xa1EVIL2\r\n",
        ),
        (
            "escape sequence in user-agent",
            b"User-Agent: a\x1b[31mEVIL3\x1b[0m\r\n",
        ),
        ("NUL in user-preference", b"User-Preference: a\x00EVIL4\r\n"),
    ];
    for (what, headers) in cases {
        let out = raw_exchange(cust, &get_request(headers), WITHIN);
        match &out {
            Outcome::Answered { status: 200, raw } => {
                let body = body_of(raw);
                assert!(
                    body.starts_with("customer => preference => recommendation v1 from '")
                        && !body.contains("EVIL"),
                    "{what}: {body:?}"
                );
            }
            other => assert!(other.rejected(), "{what}: {other:?}"),
        }
        still_serves(&mut procs, host, what);
    }
    assert_logs_clean(procs, &["EVIL"]);
}

/// recommendation's `GET /misbehave` is the smuggled request: if any server ever ran it, `GET /` answers 503.
#[test]
fn smuggling_attempts_are_rejected_and_never_run_the_hidden_request() {
    let rec = start("recommendation", &[("HOSTNAME", "smuggle")]);
    let rec_addr = addr(&rec.url);
    let hidden = "GET /misbehave HTTP/1.1\r\nHost: x\r\n\r\n";
    let chunk = format!("{:x}\r\n{hidden}\r\n0\r\n\r\n", hidden.len());
    let cases: Vec<(&str, String)> = vec![
        (
            "CL.TE",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
                5 + hidden.len()
            ),
        ),
        (
            "TE.CL",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n{chunk}"
            ),
        ),
        (
            "two Content-Lengths",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}",
                hidden.len()
            ),
        ),
        (
            "obfuscated Transfer-Encoding",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nTransfer-Encoding: xchunked\r\n\r\n{chunk}",
                chunk.len()
            ),
        ),
        (
            "Transfer-Encoding with space before colon",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n{chunk}"
            ),
        ),
        (
            "chunked then identity",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n{chunk}"
            ),
        ),
    ];
    for (what, request) in cases {
        let out = raw_exchange(rec_addr, request.as_bytes(), WITHIN);
        if let Outcome::Answered { raw, .. } = &out {
            assert!(
                !String::from_utf8_lossy(raw).contains("Following requests"),
                "{what}: the hidden request ran: {out:?}"
            );
        }
        assert!(
            out.rejected()
                || matches!(&out, Outcome::Answered { status: 200, raw } if String::from_utf8_lossy(raw).matches("HTTP/1.1").count() == 1),
            "{what}: {out:?}"
        );
        let after = raw_exchange(
            rec_addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            WITHIN,
        );
        assert_eq!(
            after.status(),
            Some(200),
            "{what}: recommendation misbehaves now, the hidden request ran: {after:?}"
        );
    }
}

/// Many connections trickling a request head byte by byte: each ends (408 or close) within the server's request
/// timeout, while other clients are served meanwhile.
#[test]
fn slowloris_connections_are_cut_and_others_are_served() {
    let host = "hostile-slow";
    let mut procs = chain(host);
    let cust = addr(&procs.customer.url);
    let trickle: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut s = TcpStream::connect_timeout(&cust, Duration::from_secs(2)).unwrap();
                let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
                s.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
                let mut buf = [0u8; 512];
                // Bounded: at most 60 bytes × 250 ms = 15 s.
                for byte in head.iter().cycle().take(60) {
                    if s.write_all(&[*byte]).is_err() {
                        return (started.elapsed(), Outcome::Closed);
                    }
                    match s.read(&mut buf) {
                        Ok(0) => return (started.elapsed(), Outcome::Closed),
                        Ok(n) => {
                            let mut raw = buf[..n].to_vec();
                            if let Outcome::Answered { raw: more, .. } =
                                read_answer(&mut s, Duration::from_secs(1))
                            {
                                raw.extend(more);
                            }
                            let out = match parse_status(&raw) {
                                Some(status) => Outcome::Answered { status, raw },
                                None => Outcome::Closed,
                            };
                            return (started.elapsed(), out);
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => return (started.elapsed(), Outcome::Closed),
                    }
                }
                (started.elapsed(), Outcome::Silent)
            })
        })
        .collect();
    // Meanwhile, ordinary clients are served.
    for _ in 0..10 {
        let started = Instant::now();
        still_serves(&mut procs, host, "during slowloris");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "served slowly: {:?}",
            started.elapsed()
        );
    }
    for t in trickle {
        let (took, out) = t.join().unwrap();
        assert!(
            out.rejected(),
            "a slowloris connection was never cut: {out:?} after {took:?}"
        );
        assert!(took < Duration::from_secs(12), "cut only after {took:?}");
    }
    still_serves(&mut procs, host, "after slowloris");
}
