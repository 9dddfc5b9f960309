//! Slow clients hold no connection: a request whose headers, or whose body, stop
//! arriving is answered (where it can be) and the connection closed after the read
//! timeout, instead of being held open for as long as the client likes.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends `head` and then nothing; returns what the server said and how long it took to
/// close the connection.
async fn stall(addr: std::net::SocketAddr, head: &str) -> (String, Duration) {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server still holds the connection after 10 s");
    (String::from_utf8_lossy(&answer).into_owned(), start.elapsed())
}

#[tokio::test]
async fn stalled_headers_and_bodies_are_cut_off() {
    let app = mirai_testkit::TestApp::spawn_with(&mirai::services(), |c| {
        c.http_read_timeout = Duration::from_millis(500);
    })
    .await
    .unwrap();
    let addr = app.fleet().addr;

    // Headers that never finish.
    let (_, took) = stall(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    assert!(took < Duration::from_secs(5), "closed after the read timeout, took {took:?}");

    // A body that declares 100 bytes and sends 17.
    let head = "POST /api/v1/identity/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{\"email\":\"a@b.c\"";
    let (answer, took) = stall(addr, head).await;
    assert!(took < Duration::from_secs(5), "closed after the read timeout, took {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "answered 408 before closing: {answer}");
    assert!(answer.contains("request-timeout"), "as a problem: {answer}");

    // A client that keeps sending is served as usual.
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}
