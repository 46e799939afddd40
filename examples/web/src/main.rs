//! Serves the example on 127.0.0.1:3000 (or `DRIFT_WEB_ADDR`), with its database in
//! `web.drift` (or `DRIFT_WEB_DB`). Logs through `tracing`: `RUST_LOG=drift=debug`
//! shows every query and commit, slow queries are warnings with their plan.
//!
//! ```sh
//! cargo run -p drift-web-example
//! curl -X POST localhost:3000/authors -H 'content-type: application/json' -d '{"name":"Ann","email":"ann@example.com"}'
//! curl -N localhost:3000/events        # in another terminal: one event per commit
//! ```
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,drift=info")),
        )
        .init();
    let path = std::env::var("DRIFT_WEB_DB").unwrap_or_else(|_| "web.drift".into());
    let addr = std::env::var("DRIFT_WEB_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let db = drift_web_example::open(std::path::Path::new(&path))?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, %path, "serving");
    axum::serve(listener, drift_web_example::app(db)).await?;
    Ok(())
}
