//! The web example's `GET /events` when commits are missing: a `Last-Event-ID` the
//! database no longer holds (or the largest number) is answered with a `gap` event, not
//! a server error, and a client that reads too slowly still gets every commit.

use std::time::Duration;

mod common;

use common::{Service, start};

impl Service {
    /// The status of `GET /events` with `Last-Event-ID: id`, or what went wrong.
    async fn events_after(&self, id: &str) -> Result<u16, String> {
        let r = self.client.get(format!("{}/events", self.base)).header("Last-Event-ID", id).send();
        match tokio::time::timeout(Duration::from_secs(10), r).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) => Err(format!("no response: {e}")),
            Err(_) => Err("no response in 10 s".into()),
        }
    }
}

/// `events` (examples/web/src/lib.rs) passes `resume_from`'s `HistoryGap` through
/// `ApiError::from`, whose catch-all is a 500: a client that reconnects with the id of
/// an event from before a restart (commit numbers start higher each open) or older
/// than the history gets a server error, and an `EventSource` does not retry a 500.
/// A stale id is the client's: a 4xx (or a fresh stream) is right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_event_id_the_database_no_longer_holds_is_not_a_server_error() {
    let s = start().await;
    let r = s.events_after("1").await;
    assert!(matches!(r, Ok(status) if status < 500), "{r:?}");
}

/// `events` computes `seen + 1` on the client's number: `Last-Event-ID:
/// 18446744073709551615` overflows (a panic in a debug build: the connection is
/// closed without a response; a wrap to 0 and a 500 in release).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_last_event_id_is_not_a_server_error() {
    let s = start().await;
    let r = s.events_after(&u64::MAX.to_string()).await;
    assert!(matches!(r, Ok(status) if status < 500), "{r:?}");
}

/// Reads `stream` until it ends or is silent for `idle`: the body after the headers.
fn read_all(stream: &mut std::net::TcpStream, idle: Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    stream.set_read_timeout(Some(idle)).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (out, false);
            }
            Err(_) => return (out, true),
        }
    }
}

/// The events of a chunked SSE response: (event, id).
fn sse_events(raw: &[u8]) -> Vec<(String, Option<u64>)> {
    let Some(head) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return Vec::new() };
    let mut rest = &raw[head + 4..];
    let mut body = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 || rest.len() < eol + 2 + size + 2 {
            body.extend_from_slice(&rest[(eol + 2).min(rest.len())..(eol + 2 + size).min(rest.len())]);
            break;
        }
        body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
    let text = String::from_utf8_lossy(&body);
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.starts_with(':'))
        .map(|e| {
            let field = |name: &str| e.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()));
            (field("event:").unwrap_or_default(), field("id:").and_then(|v| v.parse().ok()))
        })
        .collect()
}

/// `events` (examples/web/src/lib.rs) turns a `Lagged` into an `error` event and keeps
/// the stream open: the comment says the client reconnects with `Last-Event-ID`, but an
/// `EventSource` only reconnects when the stream ends, so the commits the subscription
/// missed are never sent. This client reads slowly (a small receive buffer, then
/// nothing while 4,000 commits are made), then acts as an `EventSource`: it reads
/// until the stream is silent, and reconnects with the last id whenever it ends. The
/// database holds every commit (a large history), so each one can be delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_fell_behind_still_gets_every_commit() {
    use drift::prelude::*;
    use drift_web_example::{Author, Post};
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder()
        .entity::<Author>()
        .entity::<Post>()
        .watch_history(100_000, 1 << 30)
        .open(dir.path().join("web.drift"))
        .unwrap();
    let title = "\u{1D11E}".repeat(120);
    let ids: Vec<u64> = db
        .write(|tx| {
            let author =
                tx.insert(&Author { name: "ann".into(), email: "ann@example.com".into(), ..Default::default() })?;
            (0..4).map(|_| tx.insert(&Post { author_id: author, title: title.clone(), ..Default::default() })).collect()
        })
        .unwrap();
    let addr = common::serve(db.clone()).await;

    let connect = |last: Option<u64>, small: bool| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if small {
            socket.set_recv_buffer_size(4096).unwrap();
        }
        let mut s = socket.connect(addr).await.unwrap().into_std().unwrap();
        s.set_nonblocking(false).unwrap();
        let last = last.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let req = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n{last}Accept: text/event-stream\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s
    };
    let mut stream = connect(None, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = db.watch::<Post>().unwrap().last_commit() + 1;
    let writer = db.clone();
    let last = tokio::task::spawn_blocking(move || {
        for i in 0..4_000u32 {
            let mut tx = writer.begin_write().unwrap();
            tx.set_durability(drift::Durability::None);
            for id in &ids {
                let mut p = tx.get::<Post>(id).unwrap().unwrap();
                p.likes = i;
                tx.update(&p).unwrap();
            }
            tx.commit().unwrap();
        }
        writer.watch::<Post>().unwrap().last_commit()
    })
    .await
    .unwrap();

    let mut seen: Vec<u64> = Vec::new();
    let mut notices = Vec::new();
    for _ in 0..10 {
        let (raw, ended) = read_all(&mut stream, Duration::from_secs(3));
        for (event, id) in sse_events(&raw) {
            match (event.as_str(), id) {
                ("commit", Some(id)) => seen.push(id),
                (other, _) => notices.push(other.to_string()),
            }
        }
        if !ended || seen.last() == Some(&last) {
            break;
        }
        stream = connect(seen.last().copied(), false).await;
    }
    let missing: Vec<u64> = (first..=last).filter(|id| !seen.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} commits never sent (from {:?} to {:?}); other events: {notices:?}",
        missing.len(),
        last - first + 1,
        missing.first(),
        missing.last()
    );
}
