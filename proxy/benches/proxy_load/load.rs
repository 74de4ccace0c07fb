//! Load generation: an open loop at a fixed rate, and a closed loop for the max rate.

use super::*;

pub(super) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(super) fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// One request; its status and the time from sending it to the last byte of the answer.
pub(super) async fn call(
    client: &HttpClient,
    uri: &Uri,
    body: Bytes,
) -> (StatusCode, Duration, Bytes) {
    let req = Request::post(uri.clone())
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-client-dummy")
        .body(Full::new(body))
        .unwrap();
    let started = Instant::now();
    match client.request(req).await {
        Ok(response) => {
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            (status, started.elapsed(), bytes)
        }
        Err(_) => (StatusCode::BAD_GATEWAY, started.elapsed(), Bytes::new()),
    }
}

#[derive(Default)]
pub(super) struct Run {
    /// Send to last byte, per request, in nanoseconds (sorted).
    pub(super) latency: Vec<u64>,
    /// How late the generator sent each request against its schedule, in nanoseconds (sorted).
    pub(super) lateness: Vec<u64>,
    pub(super) errors: u64,
    pub(super) elapsed: Duration,
}

impl Run {
    pub(super) fn pct(v: &[u64], p: f64) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 - 1.0) * p / 100.0).round() as usize;
        v[i] as f64 / 1e6
    }
    pub(super) fn p(&self, p: f64) -> f64 {
        Self::pct(&self.latency, p)
    }
    /// Pools another run's samples into this one (kept sorted).
    pub(super) fn absorb(&mut self, other: Run) {
        self.latency.extend(other.latency);
        self.lateness.extend(other.lateness);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency.sort_unstable();
        self.lateness.sort_unstable();
    }
    pub(super) fn rps(&self) -> f64 {
        (self.latency.len() as u64 + self.errors) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Open loop: request `i` is due at `start + i / rate`, sent then no matter what.
pub(super) fn open_loop(
    rt: &Runtime,
    client: &HttpClient,
    uri: &Uri,
    body: &Bytes,
    rate: u64,
    total: u64,
) -> Run {
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let (tx, rx) = mpsc::channel();
    let start = Instant::now() + Duration::from_millis(20);
    for i in 0..total {
        let due = start + period * u32::try_from(i).expect("fewer than 4e9 requests");
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let (tx, client, uri, body) = (tx.clone(), client.clone(), uri.clone(), body.clone());
        rt.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let (status, took, _) = call(&client, &uri, body).await;
            let _ = tx.send((status, took, late));
        });
    }
    drop(tx);
    let mut run = Run::default();
    for (status, took, late) in rx {
        if status == StatusCode::OK {
            run.latency.push(took.as_nanos() as u64);
        } else {
            run.errors += 1;
        }
        run.lateness.push(late.as_nanos() as u64);
    }
    run.elapsed = start.elapsed();
    run.latency.sort_unstable();
    run.lateness.sort_unstable();
    run
}

/// Closed loop: `concurrency` clients, each sending its next request when the last answers.
pub(super) fn closed_loop(
    rt: &Runtime,
    client: &HttpClient,
    uri: &Uri,
    body: &Bytes,
    concurrency: usize,
    secs: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, uri, body) = (client.clone(), uri.clone(), body.clone());
            rt.spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let (status, took, _) = call(&client, &uri, body.clone()).await;
                    if status == StatusCode::OK {
                        run.latency.push(took.as_nanos() as u64);
                    } else {
                        run.errors += 1;
                    }
                }
                run
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        let part = rt.block_on(task).expect("a load task");
        run.latency.extend(part.latency);
        run.errors += part.errors;
    }
    run.elapsed = started.elapsed();
    run.latency.sort_unstable();
    run
}
