//! Free loopback ports. Owns: asking the kernel for ports nobody listens on. Must not: promise
//! more than it can — a port is free when picked and may be taken before the server binds it;
//! `ControlPlane::start` retries the whole start-up when that race is lost.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{Error, Result};

/// `n` distinct free ports on 127.0.0.1.
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    // All listeners stay open until every port is picked, so the kernel cannot hand out the
    // same port twice within one call.
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?;
        *port = listener
            .local_addr()
            .map_err(|e| Error::io("reading a bound port", e))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// Whether something can bind `port` on 127.0.0.1 right now (nothing listens on it).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_free() {
        let [a, b, c] = free_ports::<3>().unwrap();
        assert!(a != b && b != c && a != c);
        assert!(is_free(a) && is_free(b) && is_free(c));
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, a)).unwrap();
        assert!(!is_free(a));
        drop(held);
    }
}
