//! `first-200 URL -- COMMAND [ARGS...]`: starts COMMAND, polls `GET URL` over loopback until it answers 200 and
//! prints the time from spawn to that 200 in milliseconds, then prints the process id and leaves it running
//! (the bench script reads its RSS and CPU, then stops it). Gives up after 10 s (exit 1, process killed).
//!
//! Each poll is a fresh connection and a raw HTTP/1.1 request, so the answer times only the service.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "--help" || args.len() < 3 || args[1] != "--" {
        eprintln!("usage: first-200 http://127.0.0.1:PORT/PATH -- COMMAND [ARGS...]");
        return ExitCode::from(64);
    }
    let Some((addr, path)) = split(&args[0]) else {
        eprintln!("first-200: {} is not http://IP:PORT/PATH", args[0]);
        return ExitCode::from(64);
    };
    let started = Instant::now();
    let mut child = match Command::new(&args[2])
        .args(&args[3..])
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("first-200: cannot start {}: {e}", args[2]);
            return ExitCode::FAILURE;
        }
    };
    let deadline = started + Duration::from_secs(10);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    while Instant::now() < deadline {
        if probe(addr, &request) {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            println!("{ms:.2} {}", child.id());
            return ExitCode::SUCCESS;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("first-200: {} exited early: {status}", args[2]);
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("first-200: no 200 from {} within 10s", args[0]);
    ExitCode::FAILURE
}

fn split(url: &str) -> Option<(SocketAddr, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    Some((host.parse().ok()?, path))
}

fn probe(addr: SocketAddr, request: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}
