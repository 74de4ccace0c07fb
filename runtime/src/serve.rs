//! The accept/drain loop every agw server runs: the proxy's client port, the webhook's
//! HTTPS admission port and each binary's admin port.
//!
//! Accepts TCP connections until the shutdown token is cancelled, runs the connection's
//! [`Handshake`] (none, or TLS) in the connection's own task so a slow client never holds up
//! the accept loop, serves HTTP/1.1 or h2 (whichever the client speaks) with a header read
//! timeout, then drains: the listener closes first, requests and streams in flight get up to
//! the drain timeout to finish, and whatever is left is dropped.
//!
//! Owns the connection life cycle. Must not know what is served (the caller's service) nor
//! when to stop (the caller's [`CancellationToken`]).

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a server waits on its clients.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Time a client has to send a request's headers (slowloris protection).
    pub header_read: Duration,
    /// Time requests in flight get to finish once shutdown starts.
    pub drain: Duration,
}

/// Turns an accepted TCP stream into the byte stream HTTP is spoken over.
pub trait Handshake: Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The stream ready for HTTP, or `None` when the client failed the handshake (the
    /// connection is then closed; the reason is logged at debug level).
    fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Self::Io>> + Send;
}

/// Plain TCP, with Nagle's algorithm off (streamed SSE events must not wait for an ACK).
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;

    async fn handshake(&self, stream: TcpStream, peer: SocketAddr) -> Option<TcpStream> {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
        }
        Some(stream)
    }
}

/// A TLS server handshake that must finish within its timeout.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    timeout: Duration,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// TLS with `config`; a client that has not finished its handshake after `timeout` is
    /// dropped.
    pub fn new(config: Arc<rustls::ServerConfig>, timeout: Duration) -> Self {
        Self {
            acceptor: TlsAcceptor::from(config),
            timeout,
        }
    }
}

impl Handshake for Tls {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;

    async fn handshake(&self, stream: TcpStream, peer: SocketAddr) -> Option<Self::Io> {
        match tokio::time::timeout(self.timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(err)) => {
                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves the service `service_for(peer)` builds for each connection on `listener`, after
/// `handshake`, until `shutdown` is cancelled; then drains within `timeouts.drain`.
/// `name` labels the log lines (`"proxy"`, `"admission"`, `"admin"`).
pub async fn serve<H, M, S, B>(
    name: &'static str,
    listener: TcpListener,
    handshake: H,
    service_for: M,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) where
    H: Handshake,
    M: Fn(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let handshake = Arc::new(handshake);
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(timeouts.header_read));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Usually EMFILE: back off instead of spinning on a full descriptor table.
                tracing::warn!(server = name, error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = service_for(peer);
        let (handshake, builder, watcher) =
            (handshake.clone(), builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let Some(io) = handshake.handshake(stream, peer).await else {
                return;
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(server = name, %peer, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(server = name, drain_timeout = ?timeouts.drain, "draining connections");
    if tokio::time::timeout(timeouts.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            server = name,
            "drain timeout reached; closing remaining connections"
        );
    }
}

fn http_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
}

/// A port that cannot be listened on.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// What the OS said.
    #[source]
    pub source: std::io::Error,
}

/// Binds a listener, with the address in the error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    fn echo_peer(
        peer: SocketAddr,
    ) -> impl Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
    > + Send {
        service_fn(move |req: Request<Incoming>| async move {
            if req.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(peer.to_string()))))
        })
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    fn start(drain: Duration) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let stop = CancellationToken::new();
        let timeouts = Timeouts {
            header_read: Duration::from_secs(5),
            drain,
        };
        let server = tokio::spawn(serve(
            "test",
            listener,
            Plain,
            echo_peer,
            timeouts,
            stop.clone(),
        ));
        (addr, stop, server)
    }

    #[tokio::test]
    async fn each_connection_gets_the_service_built_for_its_peer() {
        let (addr, stop, server) = start(Duration::from_secs(1));
        let answer = get(addr, "/").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("127.0.0.1:"), "{answer}");
        stop.cancel();
        server.await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_request_in_flight_finishes_during_the_drain() {
        let (addr, stop, server) = start(Duration::from_secs(5));
        let slow = tokio::spawn(get(addr, "/slow"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        let answer = slow.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn the_drain_gives_up_after_its_timeout() {
        let (addr, stop, server) = start(Duration::from_millis(50));
        // A client that opens a connection and never sends a request keeps it idle; the drain
        // closes idle HTTP/1 connections at once, so hold one mid-request instead.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .expect("the drain ended at its timeout, before the slow request")
            .unwrap();
    }
}
