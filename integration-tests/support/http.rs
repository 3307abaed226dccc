//! Raw HTTP/1.1 messages as bytes: where the head ends, its status and Content-Length, the body. For tests that
//! talk to sockets directly (hostile clients, fake next hops, the OTLP receiver).

/// The index just past the head's blank line, once the whole head has arrived.
pub fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The status code of a raw answer, when it starts with a status line.
pub fn parse_status(raw: &[u8]) -> Option<u16> {
    let line = raw.strip_prefix(b"HTTP/1.")?;
    std::str::from_utf8(line.get(2..5)?).ok()?.parse().ok()
}

/// The Content-Length of a whole head, when it declares one.
pub fn content_length(raw: &[u8]) -> Option<usize> {
    let head = String::from_utf8_lossy(&raw[..head_end(raw)?]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The first whole message in `raw` (head plus Content-Length body, none when undeclared): its length and
/// its body.
pub fn whole_message(raw: &[u8]) -> Option<(usize, Vec<u8>)> {
    let end = head_end(raw)?;
    let length = content_length(raw).unwrap_or(0);
    (raw.len() >= end + length).then(|| (end + length, raw[end..end + length].to_vec()))
}

/// The body of a raw answer (everything after the head; all of it when no head ended).
pub fn body_of(raw: &[u8]) -> String {
    let end = head_end(raw).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[end..]).into_owned()
}

/// Reads from `socket` until a whole request head has arrived or the peer stops sending.
pub async fn read_head(socket: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head_end(&head).is_none() {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    head
}
