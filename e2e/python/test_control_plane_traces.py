"""Operator and webhook traces against real parts: the real kube-apiserver + etcd
(hack/envtest), agw-webhook registered with it over TLS, agw-operator reconciling against it,
and the real Jaeger (hack/jaeger) receiving both binaries' OTLP export, queried back over its
HTTP API. A valid Backend must show up as the operator's reconcile span with its key; an
invalid one as the webhook's admission span with the denied verdict and its error count."""

from __future__ import annotations

import json
import secrets
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, binary, free_port
from test_control_plane import ControlPlane
from test_traces import Jaeger, parent_of, tags

VALID = """\
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: traced}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      promptGuard:
        request:
        - regex: {action: Reject, matches: ["credit card"]}
"""

# Passes the CRD schema, fails the compiler: two unknown builtins, two errors.
INVALID = """\
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: refused}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      promptGuard:
        request:
        - regex: {builtins: [NotABuiltin]}
        - regex: {builtins: [AlsoNotABuiltin]}
"""


def openssl(*args: str):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def serving_cert(dir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it, made by the real openssl."""
    ca_key, ca, key, csr, cert = (dir / n for n in ("ca.key", "ca.crt", "tls.key", "tls.csr", "tls.crt"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(ca_key), "-out", str(ca), "-subj", "/CN=agw-e2e-ca", "-days", "1",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", "/CN=agw-webhook")
    ext = dir / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


class Agw:
    """One agw control-plane binary on free loopback ports, exporting to Jaeger."""

    def __init__(self, name: str, dir: Path, args: list[str], env: dict):
        self.name, self.admin_port = name, free_port()
        self.log = open(dir / f"{name}.log", "wb")
        self.process = subprocess.Popen([binary(name), "--admin", f"127.0.0.1:{self.admin_port}", *args],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{name} exited: {self.logs()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} not ready in 60s: {self.logs()}")

    def logs(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    dir = tmp_path_factory.mktemp("cp-traces")
    jaeger = Jaeger(dir)
    cp = ControlPlane()
    started: list[Agw] = []
    try:
        ns = f"traces-{secrets.token_hex(3)}"
        assert cp.kubectl("create", "namespace", ns).returncode == 0
        env = {**cp.env, "KUBECONFIG": cp.kubeconfig, "RUST_LOG": "info"}
        env.pop("OTEL_SERVICE_NAME", None)
        ca, cert, key = serving_cert(dir)
        port = free_port()
        webhook = Agw("agw-webhook", dir, ["--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                                           "--tls-key", str(key)],
                      {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_url})
        started.append(webhook)
        register(cp, ns, port, ca)
        operator = Agw("agw-operator", dir, ["--namespace", ns, "--leader-election=false", "--gateway-api=off",
                                             "--webhook-configuration=", "--otlp-endpoint", jaeger.otlp_url], env)
        started.append(operator)
        yield {"cp": cp, "ns": ns, "jaeger": jaeger, "webhook": webhook, "operator": operator,
               "webhook_url": f"https://127.0.0.1:{port}/validate", "ca": ca}
    finally:
        for agw in started:
            if agw.process.poll() is None:
                agw.stop()
        cp.stop()
        jaeger.stop()


def register(cp: ControlPlane, ns: str, port: int, ca: Path):
    """The shipped webhook configuration, pointed at the process, limited to `ns`, and waited
    for until the apiserver calls it."""
    import base64
    text = (ROOT / "config/webhook/validating-webhook.yaml").read_text()
    bundle = base64.b64encode(ca.read_bytes()).decode()
    config = text.split("  clientConfig:")[0] + (
        f"  clientConfig:\n    url: https://127.0.0.1:{port}/validate\n    caBundle: {bundle}\n"
        f"  namespaceSelector:\n    matchExpressions:\n    - {{key: kubernetes.io/metadata.name, operator: In, values: [{ns}]}}\n")
    applied = cp.kubectl("apply", "-f", "-", stdin=config)
    assert applied.returncode == 0, applied.stderr


def spans_where(jaeger: Jaeger, service: str, match, timeout: float = 30) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        found = [s for trace in jaeger.traces(service) for s in trace["spans"] if match(s)]
        if found or time.time() > deadline:
            return found
        time.sleep(0.3)


def test_a_valid_backend_is_traced_as_the_operators_reconcile_span(stack):
    cp, ns, jaeger = stack["cp"], stack["ns"], stack["jaeger"]
    applied = cp.kubectl("apply", "-n", ns, "-f", "-", stdin=VALID)
    assert applied.returncode == 0, applied.stderr
    key = f"{ns}/traced"
    spans = spans_where(jaeger, "agw-operator", lambda s: tags(s).get("k8s.object.key") == key)
    assert spans, f"no reconcile span for {key}; operator log:\n{stack['operator'].logs()}"
    span = spans[0]
    assert span["operationName"] == "reconcile Backend"
    assert tags(span)["k8s.object.kind"] == "Backend"
    # The webhook admitted it, in a server span of its own.
    admitted = spans_where(jaeger, "agw-webhook", lambda s: tags(s).get("k8s.object.key") == key)
    assert admitted, f"no admission span for {key}; webhook log:\n{stack['webhook'].logs()}"
    # Admitted with a warning (no auth Secret named): allowed, no errors.
    verdict = tags(admitted[0])
    assert (verdict["admission.outcome"], verdict["admission.allowed"], verdict["admission.errors"]) == ("warned", True, 0)


def test_an_invalid_backend_is_traced_as_the_webhooks_denied_admission(stack):
    cp, ns, jaeger = stack["cp"], stack["ns"], stack["jaeger"]
    applied = cp.kubectl("apply", "-n", ns, "-f", "-", stdin=INVALID)
    assert applied.returncode != 0 and "NotABuiltin" in applied.stderr, applied.stderr
    key = f"{ns}/refused"
    spans = spans_where(jaeger, "agw-webhook", lambda s: tags(s).get("k8s.object.key") == key)
    assert spans, f"no admission span for {key}; webhook log:\n{stack['webhook'].logs()}"
    span = tags(spans[0])
    assert spans[0]["operationName"] == "admission review"
    assert (span["admission.outcome"], span["admission.allowed"], span["admission.errors"]) == ("denied", False, 2)
    assert (span["admission.operation"], span["k8s.object.kind"]) == ("CREATE", "Backend")
    assert "span.kind" in span and span["span.kind"] == "server"
    # Refused at admission, the object never reached the operator.
    assert not spans_where(jaeger, "agw-operator", lambda s: tags(s).get("k8s.object.key") == key, timeout=2)


def test_the_webhook_continues_a_callers_traceparent(stack):
    """The apiserver here sends no `traceparent` (its tracing is not configured), so the
    review is posted as the apiserver would, with one; a malformed one starts a new trace."""
    jaeger = stack["jaeger"]
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "e2e-1", "kind": {"group": "agentgateway.dev", "version": "v1alpha1", "kind": "Backend"},
        "resource": {"group": "agentgateway.dev", "version": "v1alpha1", "resource": "backends"},
        "name": "posted", "namespace": "direct", "operation": "CREATE", "userInfo": {},
        "object": json.loads(json.dumps({"apiVersion": "agentgateway.dev/v1alpha1", "kind": "Backend",
                                         "metadata": {"name": "posted", "namespace": "direct"},
                                         "spec": {"ai": {"provider": {"anthropic": {}}}}}))}}
    context = ssl.create_default_context(cafile=str(stack["ca"]))
    for parent in (f"00-{trace_id}-{caller}-01", "00-BOGUS"):
        request = urllib.request.Request(stack["webhook_url"], data=json.dumps(review).encode(), method="POST",
                                         headers={"content-type": "application/json", "traceparent": parent})
        with urllib.request.urlopen(request, context=context, timeout=10) as r:
            assert json.load(r)["response"]["allowed"] is True
    spans = spans_where(jaeger, "agw-webhook", lambda s: tags(s).get("k8s.object.key") == "direct/posted")
    deadline = time.time() + 20
    while len(spans) < 2 and time.time() < deadline:
        time.sleep(0.3)
        spans = spans_where(jaeger, "agw-webhook", lambda s: tags(s).get("k8s.object.key") == "direct/posted")
    continued = [s for s in spans if s["traceID"] == trace_id]
    assert len(continued) == 1 and parent_of(continued[0]) == caller, spans
    assert len(spans) == 2, "the malformed traceparent started a trace of its own"


def test_both_binaries_still_stop_cleanly_on_sigterm(stack):
    # Last in the module: the shared shutdown token ends servers, controllers and export.
    for agw in (stack["operator"], stack["webhook"]):
        assert agw.stop() == 0, agw.logs()
        assert "shutdown requested" in agw.logs()
