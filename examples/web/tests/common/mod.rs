//! Starting the service for a test: on 127.0.0.1, on a port the system picks, with its
//! database in a temp dir.

use std::net::SocketAddr;

/// A running service and a client for it.
pub struct Service {
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Serves the example's routes over `db`; returns where.
pub async fn serve(db: drift::Db) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, drift_web_example::app(db)).await });
    addr
}

/// The service on a new database.
pub async fn start() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let db = drift_web_example::open(&dir.path().join("web.drift")).unwrap();
    let addr = serve(db).await;
    Service { base: format!("http://{addr}"), client: reqwest::Client::new(), _dir: dir }
}
