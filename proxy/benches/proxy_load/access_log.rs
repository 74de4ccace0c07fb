//! What the access log and tracing cost: three more proxies, one writing JSON lines to a file
//! (as a container runtime's log file would receive them), one with `--access-log off`, and
//! one writing JSON lines and exporting every request's trace (100 % sampling) to a collector
//! that accepts it (the bench upstream answers `/v1/traces`), loaded in alternating rounds on
//! the Messages route. Prints their latency, CPU per 1k requests and the differences: the
//! access log against the ≤ 5 % CPU per request target, tracing for information.
//!
//! CPU is each proxy's own on-CPU time in nanoseconds (the sum of its threads'
//! `/proc/<pid>/task/<tid>/schedstat`), not clock ticks: a 10 ms tick is several per cent of
//! one round, which hid a 5 % difference in rounding. Each row shows its generator lateness:
//! a row whose p99 is above ~0.5 ms was disturbed by other work on the machine.

use super::{
    Args, Bytes, HttpClient, Proxy, Run, Runtime, SocketAddr, Stdio, Uri, open_loop, verdict,
};

/// On-CPU time of every thread of `pid`, in nanoseconds (`schedstat`'s first field).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

struct Side {
    name: &'static str,
    proxy: Proxy,
    uri: Uri,
    run: Run,
    cpu_ns: u64,
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
    let traced_lines = lines.with_extension("traced.log");
    let traced_file = std::fs::File::create(&traced_lines).expect("create the access log file");
    let collector = format!("http://{upstream}");
    let mut sides = [
        (
            "access log json (to a file)",
            Proxy::start_with(args, upstream, &["--access-log", "json"], file.into()),
        ),
        (
            "access log off",
            Proxy::start_with(args, upstream, &["--access-log", "off"], Stdio::null()),
        ),
        (
            "access log json + traces (100 %)",
            Proxy::start_with(
                args,
                upstream,
                &["--access-log", "json", "--otlp-endpoint", &collector],
                traced_file.into(),
            ),
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
            cpu_ns: 0,
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
    for round in 0..rounds {
        // Each round starts with the next side, so that none always follows the same one.
        for k in 0..sides.len() {
            let side = &mut sides[(round as usize + k) % 3];
            let before = cpu_ns(side.proxy.pid());
            side.run
                .absorb(open_loop(rt, client, &side.uri, body, args.rate, per_round));
            side.cpu_ns += cpu_ns(side.proxy.pid()).saturating_sub(before);
        }
    }
    let cpu_per_1k = |side: &Side| {
        let cpu_ms = side.cpu_ns as f64 / 1e6;
        cpu_ms * 1000.0 / (side.run.latency.len() as f64 + side.run.errors as f64)
    };
    println!(
        "\n{:<34} {:>9} {:>9} {:>14} {:>7} {:>12}",
        format!("access log @{} rps (Messages)", args.rate),
        "p50 ms",
        "p99 ms",
        "CPU/1k req ms",
        "errors",
        "late p99 ms"
    );
    for side in &sides {
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>14.1} {:>7} {:>12.3}",
            side.name,
            side.run.p(50.0),
            side.run.p(99.0),
            cpu_per_1k(side),
            side.run.errors,
            Run::pct(&side.run.lateness, 99.0)
        );
    }
    let [on, off, traced] = &sides;
    let cost = (cpu_per_1k(on) / cpu_per_1k(off) - 1.0) * 100.0;
    println!(
        "{:<34} {:>+9.3} {:>+9.3} {:>+13.1}% {:>7}",
        "access log cost",
        on.run.p(50.0) - off.run.p(50.0),
        on.run.p(99.0) - off.run.p(99.0),
        cost,
        verdict(cost <= 5.0)
    );
    let traces = (cpu_per_1k(traced) / cpu_per_1k(on) - 1.0) * 100.0;
    println!(
        "{:<34} {:>+9.3} {:>+9.3} {:>+13.1}% {:>7}",
        "tracing cost (100 % sampled)",
        traced.run.p(50.0) - on.run.p(50.0),
        traced.run.p(99.0) - on.run.p(99.0),
        traces,
        "info"
    );
    let dropped = traced.proxy.metric("agw_trace_spans_dropped_total");
    println!("trace spans dropped: {dropped}");
    let _ = std::fs::remove_file(&traced_lines);
    let written = std::fs::read_to_string(&lines).map_or(0, |t| t.lines().count());
    println!(
        "access log lines written: {written}; CPU = each proxy's threads' on-CPU time \
         (schedstat, ns), {rounds} alternating rounds of {per_round} requests"
    );
    let _ = std::fs::remove_file(&lines);
}
