//! The one shutdown mechanism of agw's binaries: a [`CancellationToken`] that SIGTERM or
//! ctrl-c cancels. Every server loop, controller and background task of a binary waits on a
//! clone (or a child) of it; a binary that must stop on its own (the operator losing its
//! Lease) cancels the same token. Owns the signal handling; must not decide how long a binary
//! drains (each server takes its own drain timeout).

pub use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGTERM or ctrl-c (the signal task runs on the current runtime).
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    tokio::spawn(cancel_on_signal(token.clone()));
    token
}

/// Waits for SIGTERM or ctrl-c, logs it and cancels `token`. Without a SIGTERM handler (it
/// cannot be installed) ctrl-c alone applies.
pub async fn cancel_on_signal(token: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
        () = token.cancelled() => return,
    }
    tracing::info!("shutdown requested");
    token.cancel();
}
