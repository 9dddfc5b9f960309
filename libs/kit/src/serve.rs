//! The HTTP server loop: HTTP/1.1 connections with a header-read timeout (hyper's timer)
//! and, through `RequestBodyTimeoutLayer`, a per-frame body timeout, so a client that
//! stops sending holds no connection; graceful shutdown stops accepting at once and lets
//! in-flight requests finish.

use std::{net::SocketAddr, pin::pin, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// Serves `app` on `listener` until `stop` fires, then waits for open connections to
/// finish their requests.
pub async fn serve(listener: TcpListener, app: Router, stop: CancellationToken, read_timeout: Duration) {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(read_timeout));
    let connections = TaskTracker::new();
    loop {
        let (stream, remote) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            req
        });
        let stop = stop.clone();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(read_timeout);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
