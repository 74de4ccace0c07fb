//! Free loopback ports. Owns: asking the kernel for ports nobody listens on. Must not: promise
//! more than it can — a port is free when picked and may be taken before the server binds it;
//! `ControlPlane::start` retries the whole start-up when that race is lost.

use std::hash::{BuildHasher, RandomState};
use std::net::{Ipv4Addr, TcpListener};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// Where picked ports start; the range ends below the kernel's ephemeral ports.
const LOWEST: u16 = 10_000;

/// `n` distinct free ports on 127.0.0.1, below the kernel's ephemeral range.
///
/// Not `bind(0)`: the kernel hands that port out again as the source port of the next
/// outgoing connection anyone makes, and a port so held refuses connections yet cannot be
/// bound ("address already in use") by the server meant to get it. Below the range, only
/// another picker can take it, and each starts at a random place.
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let end = ephemeral_start();
    let span = end - LOWEST;
    let mut next = random_below(span);
    // All listeners stay open until every port is picked, so no port is picked twice.
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let (picked, listener) = (0..span)
            .find_map(|_| {
                let candidate = LOWEST + next;
                next = (next + 1) % span;
                TcpListener::bind((Ipv4Addr::LOCALHOST, candidate))
                    .ok()
                    .map(|listener| (candidate, listener))
            })
            .ok_or_else(|| {
                Error::io(
                    format!("finding a free port in 127.0.0.1:{LOWEST}..{end}"),
                    std::io::Error::from(std::io::ErrorKind::AddrInUse),
                )
            })?;
        *port = picked;
        listeners.push(listener);
    }
    Ok(ports)
}

/// The first ephemeral port (`/proc/sys/net/ipv4/ip_local_port_range`), 32768 if unknown.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .filter(|&start: &u16| start > LOWEST + 2_000)
        .unwrap_or(32_768)
}

/// A number below `n` (> 0) that differs between calls and processes.
fn random_below(n: u16) -> u16 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let hash = RandomState::new().hash_one((nanos, std::process::id()));
    u16::try_from(hash % u64::from(n)).unwrap_or(0)
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
        assert!(
            [a, b, c]
                .iter()
                .all(|&p| (LOWEST..ephemeral_start()).contains(&p))
        );
        assert!(is_free(a) && is_free(b) && is_free(c));
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, a)).unwrap();
        assert!(!is_free(a));
        drop(held);
    }
}
