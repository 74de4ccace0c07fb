"""OpenTelemetry traces against a real trace backend: Jaeger v2 built from Go modules by
hack/jaeger/build.sh, receiving agw-proxy's OTLP/HTTP export, and queried back over its HTTP
API. The tutorial's two `claude -p` prompts go through the real Claude Code CLI."""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import anthropic
import pytest

from conftest import ROOT, config, free_port, run_claude

MODEL = "claude-sonnet-4-5-20250929"
CLIENT_KEY = "sk-ant-client-dummy"


def jaeger_bin() -> str:
    if os.environ.get("AGW_SKIP_JAEGER") == "1":
        pytest.skip("AGW_SKIP_JAEGER=1: the trace tests against Jaeger are skipped on request")
    path = os.environ.get("AGW_JAEGER_BIN")
    if not path or not Path(path).exists():
        pytest.fail("Jaeger is not built: run `eval \"$(hack/jaeger/build.sh)\"` (exports AGW_JAEGER_BIN), "
                    "or set AGW_SKIP_JAEGER=1 to skip the trace tests")
    return path


class Jaeger:
    """The real Jaeger on free loopback ports, with hack/jaeger/config.yaml."""

    def __init__(self, workdir: Path):
        self.otlp, self.query, self.health = free_port(), free_port(), free_port()
        env = {**os.environ,
               "AGW_JAEGER_OTLP_HTTP": f"127.0.0.1:{self.otlp}",
               "AGW_JAEGER_OTLP_GRPC": f"127.0.0.1:{free_port()}",
               "AGW_JAEGER_QUERY_HTTP": f"127.0.0.1:{self.query}",
               "AGW_JAEGER_QUERY_GRPC": f"127.0.0.1:{free_port()}",
               "AGW_JAEGER_HEALTH": f"127.0.0.1:{self.health}"}
        self.log = open(workdir / "jaeger.log", "wb")
        self.process = subprocess.Popen([jaeger_bin(), "--config", str(ROOT / "hack/jaeger/config.yaml")],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jaeger exited: {Path(self.log.name).read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health}/status", timeout=2) as r:
                    if json.load(r).get("healthy"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"jaeger not healthy in 30s: {Path(self.log.name).read_text(errors='replace')}")

    @property
    def otlp_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp}"

    def traces(self, service: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.query}/api/traces?service={service}&limit=1000&lookback=1h"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"] or []
        except urllib.error.HTTPError:
            return []  # the service is unknown until its first span arrives

    def spans(self, service: str, count: int, timeout: float = 20) -> list[dict]:
        """Every span of `service`, once there are at least `count` (the proxy batches for up
        to a second, Jaeger for 200ms)."""
        deadline = time.time() + timeout
        while True:
            spans = [span for trace in self.traces(service) for span in trace["spans"]]
            if len(spans) >= count or time.time() > deadline:
                return spans
            time.sleep(0.2)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory):
    j = Jaeger(tmp_path_factory.mktemp("jaeger"))
    yield j
    j.stop()


def tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span["tags"]}


def parent_of(span: dict) -> str | None:
    refs = [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    return refs[0] if refs else None


def service_name() -> str:
    return f"agw-e2e-{secrets.token_hex(4)}"


def test_claude_code_sessions_are_traced_with_guard_and_upstream_spans(mock, start_proxy, workdir, jaeger):
    """The tutorial's two prompts through the real CLI: the allowed one continues the trace
    Claude Code was told to send (ANTHROPIC_CUSTOM_HEADERS), and the upstream is handed the
    same trace with agw's upstream span as parent; the rejected one names request[0]."""
    service = service_name()
    proxy = start_proxy(config(mock.port), "--otlp-endpoint", jaeger.otlp_url, env={"OTEL_SERVICE_NAME": service})
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    allowed = run_claude(proxy.url, "What is Kubernetes?", workdir / "home",
                         extra_env={"ANTHROPIC_CUSTOM_HEADERS": f"traceparent: 00-{trace_id}-{client_span}-01"})
    assert allowed.returncode == 0, allowed.stderr
    upstream_calls = mock.messages_requests()
    rejected = run_claude(proxy.url, "What is a credit card", workdir / "home", timeout=60)
    assert rejected.returncode != 0
    assert len(mock.messages_requests()) == len(upstream_calls), "a rejected prompt never reaches the upstream"

    # Each allowed call: a server, a guard and an upstream span. Each rejected one: two.
    spans = jaeger.spans(service, count=3 * len(upstream_calls) + 2)
    by_id = {s["spanID"]: s for s in spans}
    servers = [s for s in spans if tags(s).get("span.kind") == "server"]
    allowed_servers = [s for s in servers if s["traceID"] == trace_id]
    rejected_servers = [s for s in servers if tags(s).get("agw.guard.outcome") == "reject"]
    assert len(allowed_servers) == len(upstream_calls) and rejected_servers, [s["operationName"] for s in spans]

    seen_upstream = {call.headers["traceparent"] for call in upstream_calls}
    for server in allowed_servers:
        t = tags(server)
        assert server["operationName"] == "POST Messages"
        assert parent_of(server) == client_span, "the client's span is the server span's parent"
        assert t["http.request.method"] == "POST" and t["url.path"] == "/v1/messages"
        assert t["http.response.status_code"] == 200 and t["agw.backend"] == "default/anthropic"
        assert t["agw.guard.outcome"] == "allow" and t["gen_ai.request.model"].startswith("claude-")
        assert t["gen_ai.usage.input_tokens"] > 0 and t["gen_ai.usage.output_tokens"] > 0, t
        assert t["user_agent.original"].startswith("claude-cli/") and "error" not in t
        children = [s for s in spans if parent_of(s) == server["spanID"]]
        guard = [s for s in children if s["operationName"] == "agw.guard"]
        upstream = [s for s in children if tags(s).get("span.kind") == "client"]
        assert len(guard) == 1 and len(upstream) == 1, [s["operationName"] for s in children]
        assert tags(guard[0])["agw.guard.outcome"] == "allow"
        up = tags(upstream[0])
        assert upstream[0]["operationName"] == f"chat {t['gen_ai.request.model']}"
        assert up["gen_ai.system"] == "anthropic" and up["gen_ai.operation.name"] == "chat"
        assert up["gen_ai.request.model"] == t["gen_ai.request.model"]
        assert up["gen_ai.response.model"].startswith("claude-") and up["http.response.status_code"] == 200
        assert up["gen_ai.usage.output_tokens"] == t["gen_ai.usage.output_tokens"] > 0
        assert up["server.address"] == "127.0.0.1" and up["server.port"] == mock.port
        # The upstream continued this very trace, as a child of agw's upstream span.
        assert f"00-{trace_id}-{upstream[0]['spanID']}-01" in seen_upstream, seen_upstream
        # The upstream span lasts until the response body ended, inside the server span.
        assert upstream[0]["startTime"] >= server["startTime"]
        assert upstream[0]["startTime"] + upstream[0]["duration"] <= server["startTime"] + server["duration"] + 1000

    for server in rejected_servers:
        t = tags(server)
        assert server["traceID"] != trace_id and parent_of(server) is None, "no traceparent: a new trace"
        assert t["agw.guard.id"] == "request[0]" and t["error.type"] == "guard_rejected", t
        assert t["http.response.status_code"] == 400 and t["error"] is True, t
        children = [s for s in spans if parent_of(s) == server["spanID"]]
        assert [s["operationName"] for s in children] == ["agw.guard"], "rejected: no upstream span"
        guard = tags(children[0])
        assert guard["agw.guard.id"] == "request[0]" and guard["agw.guard.outcome"] == "reject"
        assert guard["agw.guard.spans"] == 1
    # Nothing of the prompts or keys reaches the collector.
    dumped = json.dumps(spans)
    assert "credit card" not in dumped and "Kubernetes" not in dumped and CLIENT_KEY not in dumped
    # The access log names each line's trace.
    lines = [json.loads(l) for l in proxy.logs().splitlines() if l.startswith("{") and '"request_id"' in l]
    assert {l["trace_id"] for l in lines if l["url.path"] == "/v1/messages"} >= {trace_id}


def raw_post(proxy, headers: dict) -> tuple[int, dict]:
    body = json.dumps({"model": MODEL, "max_tokens": 16,
                       "messages": [{"role": "user", "content": "What is Kubernetes?"}]}).encode()
    request = urllib.request.Request(f"{proxy.url}/v1/messages", data=body, method="POST",
                                     headers={"content-type": "application/json", "x-api-key": CLIENT_KEY, **headers})
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, dict(r.headers)


def test_a_malformed_or_huge_traceparent_starts_a_new_trace(mock, start_proxy, jaeger):
    service = service_name()
    proxy = start_proxy(config(mock.port), "--otlp-endpoint", jaeger.otlp_url, env={"OTEL_SERVICE_NAME": service})
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    bad = ["garbage", good.upper(), "00-" + "0" * 32 + "-b7ad6b7169203331-01", good + "x" * 6000]
    for value in bad:
        status, _ = raw_post(proxy, {"traceparent": value, "tracestate": "vendor=secret"})
        assert status == 200
    sent = [call.headers["traceparent"] for call in mock.messages_requests()]
    assert len(sent) == len(bad)
    for value in sent:
        version, trace_id, span_id, flags = value.split("-")
        assert (version, flags) == ("00", "01") and trace_id != "0af7651916cd43dd8448eb211c80319c"
        assert len(trace_id) == 32 and len(span_id) == 16
    assert len({v.split("-")[1] for v in sent}) == len(bad), "each request got a trace of its own"
    assert all("tracestate" not in call.headers for call in mock.messages_requests()), \
        "a tracestate without a valid traceparent is dropped"
    spans = jaeger.spans(service, count=3 * len(bad))
    assert {s["traceID"] for s in spans} == {v.split("-")[1] for v in sent}
    assert all(parent_of(s) is None for s in spans if tags(s).get("span.kind") == "server")


def test_sampling_off_still_propagates_the_callers_trace(mock, start_proxy, jaeger):
    service = service_name()
    proxy = start_proxy(config(mock.port), "--otlp-endpoint", jaeger.otlp_url,
                        env={"OTEL_SERVICE_NAME": service, "OTEL_TRACES_SAMPLER": "always_off"})
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    raw_post(proxy, {"traceparent": parent, "tracestate": "congo=t61rcWkgMzE"})
    call = mock.messages_requests()[-1]
    assert call.headers["traceparent"] == parent.replace("-01", "-00")
    assert call.headers["tracestate"] == "congo=t61rcWkgMzE"
    # Sampled requests under another service prove the export works; this one sent nothing.
    assert jaeger.spans(service, count=1, timeout=3) == []


def metric(proxy, name: str) -> float:
    _, text = proxy.admin("/metrics")
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
    return sum(values)


def test_an_unreachable_or_stuck_collector_never_slows_or_fails_a_request(mock, start_proxy):
    closed = free_port()
    # A collector that accepts connections and never answers.
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(128)
    try:
        for endpoint in (f"http://127.0.0.1:{closed}", f"http://127.0.0.1:{stuck.getsockname()[1]}"):
            proxy = start_proxy(config(mock.port), "--otlp-endpoint", endpoint)
            client = anthropic.Anthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0)
            started = time.time()
            for _ in range(5):
                client.messages.create(model=MODEL, max_tokens=16,
                                       messages=[{"role": "user", "content": "What is Kubernetes?"}])
            assert time.time() - started < 5, "requests waited for the collector"
            if endpoint.endswith(str(closed)):
                deadline = time.time() + 10
                while metric(proxy, "agw_trace_spans_dropped_total") < 1 and time.time() < deadline:
                    time.sleep(0.1)
                assert metric(proxy, "agw_trace_spans_dropped_total") >= 1, proxy.admin("/metrics")[1]
                assert "trace export failed" in proxy.logs()
    finally:
        stuck.close()


def test_a_setting_agw_cannot_honour_stops_the_proxy(mock, workdir):
    from conftest import binary
    (workdir / "agw.yaml").write_text(config(mock.port))
    for env, named in [({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
                       ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER")]:
        run = subprocess.run([binary("agw-proxy"), "--config", str(workdir / "agw.yaml"),
                              "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                              "--otlp-endpoint", "http://127.0.0.1:4318"],
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
        assert run.returncode != 0 and named in run.stderr, run.stderr
