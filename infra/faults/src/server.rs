//! The accept loop: one HTTP/1.1 connection task per client, each request
//! handed to [`crate::service::handle`], until the shutdown future resolves.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::service::{Shared, handle};

/// Serves `listener` until `shutdown` resolves. Open connections are not
/// drained: they end when their runtime is dropped or the process exits.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            res = listener.accept() => match res {
                Ok((socket, _)) => socket,
                Err(err) => {
                    eprintln!("kiln-faults: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let shared = Arc::clone(&shared);
        let service = service_fn(move |req| handle(Arc::clone(&shared), req));
        tokio::spawn(async move {
            // Errors here are mostly our own Drop/LoseResponse aborts.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
        });
    }
}
