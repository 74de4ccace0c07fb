"""A TLS upstream: a Backend with `policies.tls` in front of the mock Anthropic API served over
HTTPS with a certificate from a CA made for the test (openssl CLI; no Python crypto package).

What agw-proxy trusts (proxy/src/tls.rs): the Mozilla roots compiled into the binary, the
platform store (or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as OpenSSL and curl read them) and
every `--upstream-ca-file`. It connects to `host:port` and sends and verifies
`policies.tls.sni` when set, the host otherwise; the HTTP Host header stays the host.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import pytest

from conftest import TUTORIAL_GUARD, binary, free_port
from mock_anthropic import Mock

MODEL = "claude-sonnet-4-5-20250929"
PROXY_KEY = "sk-ant-proxy-key"

BACKEND = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData:
  Authorization: {key}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider:
      anthropic: {{}}
      host: {host}
      port: {port}
  policies:
    ai:
      routes:
        '/v1/messages': Messages
        '*': Passthrough
      promptGuard:
        request:
{guards}
    auth:
      secretRef: {{name: anthropic-secret}}
    tls: {tls}
"""


def tls_config(port: int, host: str = "localhost", tls: str = "{}") -> str:
    return BACKEND.format(key=PROXY_KEY, host=host, port=port, guards=TUTORIAL_GUARD, tls=tls)


# --- a CA and a server certificate, made with the openssl CLI ------------------------------


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path


def openssl(*args: str, cwd: Path):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {done.stderr}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make the test CA (install openssl)")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=agw e2e test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=DNS:localhost,DNS:anthropic.internal,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    return Pki(ca=d / "ca.pem", cert=d / "server.pem", key=d / "server.key")


# --- the mock Anthropic API over HTTPS ------------------------------------------------------


@dataclass
class TlsLog:
    """What the HTTPS listener saw before any HTTP: server names (SNI) and failed handshakes."""
    server_names: list = field(default_factory=list)
    handshake_errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def https_mock(pki):
    """mock_anthropic.Mock, unchanged, with its listening socket wrapped in TLS (and its
    connections ended with a TLS close_notify)."""
    mock = Mock()
    log = TlsLog()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    context.set_alpn_protocols(["http/1.1"])

    def sni(_conn, name, _ctx):
        with log.lock:
            log.server_names.append(name)

    context.sni_callback = sni
    server = mock.server
    server.socket = context.wrap_socket(server.socket, server_side=True)
    accept = server.get_request

    def get_request():
        # The handshake runs in accept(); socketserver drops its errors silently, so keep them.
        try:
            return accept()
        except (ssl.SSLError, OSError) as err:
            with log.lock:
                log.handshake_errors.append(str(err))
            raise

    server.get_request = get_request
    shutdown_request = server.shutdown_request

    def close_with_notify(request):
        # End with a TLS closure alert, as a well-behaved HTTPS server does. The mock's SSE
        # responses are delimited by the connection close (neither Content-Length nor chunked),
        # and such a body is complete only when a closure alert arrives (RFC 9112 §9.8); without
        # it the proxy, like any strict client, must treat the stream as truncated.
        try:
            request.settimeout(5)
            request.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        shutdown_request(request)

    server.shutdown_request = close_with_notify
    mock.tls = log
    with mock:
        yield mock


def post(url: str, body: dict, timeout: float = 10):
    data = json.dumps(body).encode()
    request = urllib.request.Request(url + "/v1/messages", data=data, method="POST",
                                     headers={"content-type": "application/json", "x-api-key": "sk-ant-client-dummy",
                                              "anthropic-version": "2023-06-01"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def eventually(check, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


PROMPT = "What is Kubernetes? (asked over tls-e2e)"
HELLO = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}


def test_the_https_mock_is_valid_for_a_client_that_trusts_the_test_ca(https_mock, pki):
    """The fixture itself: a client that trusts the CA gets the mock's answer over TLS."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    request = urllib.request.Request(f"https://localhost:{https_mock.port}/v1/messages", data=json.dumps(HELLO).encode(),
                                     method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10, context=context) as r:
        assert r.status == 200
        assert "Kubernetes" in json.loads(r.read())["content"][0]["text"]
    assert https_mock.tls.server_names == ["localhost"]


def test_tls_policy_makes_the_proxy_speak_tls_on_a_port_other_than_443(https_mock, start_proxy):
    """`policies.tls: {}` on port N: the proxy opens TLS (SNI = host), not plain HTTP; the
    certificate is from a CA it does not trust, so the request fails as a 502 `api_error` in
    Anthropic's format and nothing of it reaches the upstream."""
    proxy = start_proxy(tls_config(https_mock.port))
    status, headers, body = post(proxy.url, HELLO)
    assert status == 502, body
    error = json.loads(body)
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"
    assert https_mock.requests == [], "an untrusted upstream must not receive the request"
    assert "localhost" in https_mock.tls.server_names, "the proxy did not start a TLS handshake"
    # The proxy may answer before the listener thread has read the client's alert.
    assert eventually(lambda: any("unknown ca" in e.lower() for e in https_mock.tls.handshake_errors)), \
        https_mock.tls.handshake_errors
    # The key and the prompt are not in the proxy's log.
    assert PROXY_KEY not in proxy.logs()
    assert PROMPT not in proxy.logs()


def test_without_tls_policy_a_non_443_port_is_plain_http(https_mock, start_proxy):
    """Without `policies.tls` the proxy talks plain HTTP to port N; the TLS listener sees a
    garbage handshake, no server name, and the client a 502."""
    proxy = start_proxy(tls_config(https_mock.port).replace("    tls: {}\n", ""))
    status, _, body = post(proxy.url, HELLO)
    assert status == 502, body
    assert https_mock.tls.server_names == []
    assert https_mock.requests == []


def test_tls_upstream_signed_by_a_ca_named_in_ssl_cert_file(https_mock, start_proxy, pki, monkeypatch):
    """The conventional way to trust a private CA (rustls-native-certs, OpenSSL, curl, Python):
    SSL_CERT_FILE. Then JSON, streaming and guards work end to end over TLS."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    proxy = start_proxy(tls_config(https_mock.port))
    client = anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-client-dummy", max_retries=0)

    reply = client.messages.create(**HELLO)
    assert "Kubernetes" in reply.content[0].text
    seen = https_mock.messages_requests()[-1]
    assert seen.headers["x-api-key"] == PROXY_KEY
    assert seen.headers["host"] == f"localhost:{https_mock.port}"

    with client.messages.stream(**HELLO) as stream:
        assert "".join(stream.text_stream).startswith("Kubernetes is")

    before = len(https_mock.messages_requests())
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is a credit card"}])
    assert len(https_mock.messages_requests()) == before
    assert https_mock.tls.handshake_errors == []


def test_tls_sni_policy_is_the_server_name_sent(https_mock, start_proxy):
    """`policies.tls.sni` names the server to verify and send as SNI when it differs from the
    host (DESIGN: "defaults to the host")."""
    proxy = start_proxy(tls_config(https_mock.port, host="127.0.0.1", tls="{sni: anthropic.internal}"))
    post(proxy.url, HELLO)
    assert https_mock.tls.server_names == ["anthropic.internal"]


def test_tls_sni_policy_is_verified_and_the_host_header_stays_the_host(https_mock, start_proxy, pki, monkeypatch):
    """The certificate is verified for the SNI name (the CA is trusted, the name is in the
    certificate), while Host names the upstream the Backend points at, as Envoy's `sni` does."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    proxy = start_proxy(tls_config(https_mock.port, host="127.0.0.1", tls="{sni: anthropic.internal}"))
    status, _, body = post(proxy.url, HELLO)
    assert status == 200, body
    assert "Kubernetes" in json.loads(body)["content"][0]["text"]
    seen = https_mock.messages_requests()[-1]
    assert seen.headers["host"] == f"127.0.0.1:{https_mock.port}"
    assert https_mock.tls.server_names == ["anthropic.internal"]
    assert https_mock.tls.handshake_errors == []


def test_a_certificate_not_valid_for_the_sni_name_is_a_502(https_mock, start_proxy, pki, monkeypatch):
    """A trusted CA but a name the certificate does not carry: the proxy refuses the upstream
    and answers 502 `api_error` in Anthropic's format; the request never reaches it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    proxy = start_proxy(tls_config(https_mock.port, host="localhost", tls="{sni: wrong.example}"))
    status, headers, body = post(proxy.url, HELLO)
    assert status == 502, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"
    assert "wrong.example" in error["error"]["message"], error
    assert https_mock.requests == []
    assert https_mock.tls.server_names == ["wrong.example"]
    assert PROXY_KEY not in proxy.logs()


def test_upstream_ca_file_flag_trusts_a_private_ca(https_mock, start_proxy, pki, monkeypatch):
    """`--upstream-ca-file` adds a CA without touching the environment; the startup log says
    how many roots came from where."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    proxy = start_proxy(tls_config(https_mock.port), "--upstream-ca-file", str(pki.ca))
    status, _, body = post(proxy.url, HELLO)
    assert status == 200, body
    assert https_mock.messages_requests()[-1].headers["x-api-key"] == PROXY_KEY
    assert https_mock.tls.handshake_errors == []
    logs = re.sub(r"\x1b\[[0-9;]*m", "", proxy.logs())
    assert re.search(r"agw-proxy serving .*upstream_roots=\d+ \(webpki \d+, platform \d+, --upstream-ca-file 1\)", logs), logs


@pytest.mark.parametrize("content", [None, "not a certificate\n",
                                     "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
                         ids=["missing", "not-pem", "not-a-certificate"])
def test_an_unusable_upstream_ca_file_stops_the_proxy_naming_the_file(workdir, content):
    """A CA file that cannot be used is a startup error naming the file, not a proxy that
    later fails every TLS request."""
    ca = workdir / "ca.pem"
    if content is not None:
        ca.write_text(content)
    config = workdir / "agw.yaml"
    config.write_text(tls_config(443))
    done = subprocess.run([binary("agw-proxy"), "--config", str(config), "--listen", f"127.0.0.1:{free_port()}",
                           "--admin", f"127.0.0.1:{free_port()}", "--upstream-ca-file", str(ca)],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert f"--upstream-ca-file {ca}:" in done.stderr, done.stderr
