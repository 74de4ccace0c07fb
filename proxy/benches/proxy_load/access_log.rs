//! What the access log costs: two more proxies, one writing JSON lines to a file (as a
//! container runtime's log file would receive them) and one with `--access-log off`, loaded
//! in alternating rounds on the Messages route. Prints their latency, CPU per 1k requests and
//! the difference, against the ≤ 5 % CPU per request target.

use super::{
    Args, Bytes, HttpClient, Proxy, Run, Runtime, SocketAddr, Stdio, Uri, clock_ticks_per_sec,
    cpu_ticks, open_loop, verdict,
};

struct Side {
    name: &'static str,
    proxy: Proxy,
    uri: Uri,
    run: Run,
    ticks: u64,
}

pub(super) fn compare(
    args: &Args,
    upstream: SocketAddr,
    rt: &Runtime,
    client: &HttpClient,
    body: &Bytes,
) {
    let lines = std::env::temp_dir().join(format!("agw-bench-access-{}.log", std::process::id()));
    let file = std::fs::File::create(&lines).expect("create the access log file");
    let mut sides = [
        (
            "access log json (to a file)",
            Proxy::start_with(args, upstream, &["--access-log", "json"], file.into()),
        ),
        (
            "access log off",
            Proxy::start_with(args, upstream, &["--access-log", "off"], Stdio::null()),
        ),
    ]
    .map(|(name, mut proxy)| {
        proxy.wait_ready(rt, client);
        let uri = format!("http://127.0.0.1:{}/v1/messages", proxy.port)
            .parse()
            .unwrap();
        Side {
            name,
            proxy,
            uri,
            run: Run::default(),
            ticks: 0,
        }
    });
    if args.warmup_secs > 0 {
        for side in &sides {
            open_loop(
                rt,
                client,
                &side.uri,
                body,
                args.rate,
                args.rate * args.warmup_secs,
            );
        }
    }
    let rounds = args.rounds.max(1);
    let per_round = (args.rate * args.secs / rounds).max(1);
    for _ in 0..rounds {
        for side in &mut sides {
            let before = cpu_ticks(side.proxy.pid());
            side.run
                .absorb(open_loop(rt, client, &side.uri, body, args.rate, per_round));
            side.ticks += cpu_ticks(side.proxy.pid()) - before;
        }
    }
    let cpu_per_1k = |side: &Side| {
        let cpu_ms = side.ticks as f64 * 1000.0 / clock_ticks_per_sec() as f64;
        cpu_ms * 1000.0 / (side.run.latency.len() as f64 + side.run.errors as f64)
    };
    println!(
        "\n{:<34} {:>9} {:>9} {:>14} {:>7}",
        format!("access log @{} rps (Messages)", args.rate),
        "p50 ms",
        "p99 ms",
        "CPU/1k req ms",
        "errors"
    );
    for side in &sides {
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>14.1} {:>7}",
            side.name,
            side.run.p(50.0),
            side.run.p(99.0),
            cpu_per_1k(side),
            side.run.errors
        );
    }
    let [on, off] = &sides;
    let cost = (cpu_per_1k(on) / cpu_per_1k(off) - 1.0) * 100.0;
    println!(
        "{:<34} {:>+9.3} {:>+9.3} {:>+13.1}% {:>7}",
        "access log cost",
        on.run.p(50.0) - off.run.p(50.0),
        on.run.p(99.0) - off.run.p(99.0),
        cost,
        verdict(cost <= 5.0)
    );
    let written = std::fs::read_to_string(&lines).map_or(0, |t| t.lines().count());
    println!(
        "access log lines written: {written} (CPU ticks are {} per second: short runs are coarse)",
        clock_ticks_per_sec()
    );
    let _ = std::fs::remove_file(&lines);
}
