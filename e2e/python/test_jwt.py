"""JWT client authentication with the real Claude Code CLI through the real agw-proxy: tokens
signed by a test identity provider (an RSA key made with the `openssl` CLI, its JWKS served by
a real HTTP server on 127.0.0.1) are accepted from ANTHROPIC_AUTH_TOKEN and from an
apiKeyHelper script, never reach the provider, carry the identity that authorization and
budgets use; an expired or foreign token fails at once with the reason, and a rotated signing
key is picked up by refreshing the set."""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from test_client_auth import PROXY_KEY, claude

ISSUER = "https://idp.agw.test"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Idp:
    """A signing key pair (openssl) and its JWKS, served over HTTP on 127.0.0.1."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.keys: dict[str, Path] = {}
        self.published: list[str] = []
        self.hits = 0
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                idp.hits += 1
                body = json.dumps({"keys": [idp.jwk(kid) for kid in idp.published]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def new_key(self, kid: str, publish: bool = True) -> None:
        path = self.workdir / f"{kid}.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(path)], check=True, capture_output=True)
        self.keys[kid] = path
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict:
        out = subprocess.run(["openssl", "rsa", "-in", str(self.keys[kid]), "-noout", "-modulus"],
                             check=True, capture_output=True, text=True).stdout
        modulus = bytes.fromhex(out.strip().split("=", 1)[1])
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(modulus), "e": "AQAB"}

    def token(self, sub: str, kid: str = "k1", **claims) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": "agw", "sub": sub, "groups": ["dev"], "iat": now, "exp": now + 600}
        payload.update(claims)
        signed = f"{b64(json.dumps({'alg': 'RS256', 'kid': kid, 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.keys[kid])],
                             input=signed.encode(), check=True, capture_output=True).stdout
        return f"{signed}.{b64(sig)}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def idp(workdir):
    provider = Idp(workdir)
    provider.new_key("k1")
    yield provider
    provider.close()


CONFIG = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData: {{Authorization: {proxy_key}}}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider: {{anthropic: {{}}, host: 127.0.0.1, port: {port}}}
  policies:
    auth: {{secretRef: {{name: anthropic-secret}}}}
    jwtAuthentication:
      providers:
      - issuer: {issuer}
        audiences: [agw]
        jwks: {{remote: {{uri: "{jwks}"}}}}
        groupsClaim: groups
    authorization: {{rules: [{{groups: [dev]}}]}}
    rateLimit:
      local:
      - {{tokens: {bob_tokens}, unit: Days, per: Identity, identities: [bob]}}
"""


def config(mock, idp, bob_tokens: int = 1_000_000) -> str:
    return CONFIG.format(proxy_key=PROXY_KEY, port=mock.port, issuer=ISSUER, jwks=idp.url, bob_tokens=bob_tokens)


def assert_no_token_upstream(mock, *tokens: str):
    for request in mock.requests:
        assert request.headers.get("x-api-key") == PROXY_KEY, request.headers
        assert "authorization" not in {k.lower() for k in request.headers}, request.headers
        for value in request.headers.values():
            assert all(t not in value for t in tokens), "a client token reached the provider"


def post(url: str, token: str):
    request = urllib.request.Request(f"{url}/v1/messages", data=b"{}", method="POST",
                                     headers={"authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_a_token_in_anthropic_auth_token_is_the_callers_identity(mock, start_proxy, workdir, idp):
    proxy = start_proxy(config(mock, idp), "--access-log", "json")
    token = idp.token("alice")
    result, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    assert mock.messages_requests(), "the request never reached the upstream"
    assert_no_token_upstream(mock, token)
    logs = proxy.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"agw.client.identity"' in line]
    assert lines and all(line["agw.client.identity"] == "alice" for line in lines), logs
    assert token not in logs and token.split(".")[2] not in logs
    assert idp.hits == 1, "the key set is fetched once and cached"


def test_a_token_from_an_api_key_helper_is_accepted(mock, start_proxy, workdir, idp):
    proxy = start_proxy(config(mock, idp))
    token = idp.token("bob")
    home = workdir / "home"
    helper = workdir / "agw-token.sh"
    helper.write_text(f"#!/bin/sh\necho {token}\n")
    helper.chmod(0o755)
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"apiKeyHelper": str(helper)}))
    result, _ = claude(proxy.url, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    assert_no_token_upstream(mock, token)


def test_an_expired_token_fails_at_once_with_the_reason_and_no_upstream_call(mock, start_proxy, workdir, idp):
    proxy = start_proxy(config(mock, idp))
    now = int(time.time())
    token = idp.token("alice", iat=now - 7200, exp=now - 3600)
    result, elapsed = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=token)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "401" in output and "the token was refused: the token expired at" in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s: the CLI retried the 401"
    assert token not in output
    assert mock.requests == []


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-service"}, "audience (aud) is not one this gateway accepts"),
        ({"iss": "https://evil.test"}, "issuer (iss) is not trusted"),
        ({"groups": ["sales"]}, 'identity "alice" is not allowed'),
    ],
)
def test_foreign_tokens_are_refused_with_why(mock, start_proxy, idp, claims, reason):
    proxy = start_proxy(config(mock, idp))
    token = idp.token("alice", **claims)
    status, headers, body = post(proxy.url, token)
    assert status in (401, 403), body
    assert reason in json.loads(body)["error"]["message"], body
    assert headers.get("x-should-retry") == "false"
    assert token not in body
    assert mock.requests == []


def test_tampered_and_unsigned_tokens_are_refused(mock, start_proxy, idp):
    proxy = start_proxy(config(mock, idp))
    header, payload, sig = idp.token("alice").split(".")
    escalated = b64(json.dumps({"iss": ISSUER, "aud": "agw", "sub": "admin", "groups": ["dev"],
                                "exp": int(time.time()) + 600}).encode())
    status, _, body = post(proxy.url, f"{header}.{escalated}.{sig}")
    assert status == 401 and "signature is not valid" in body, body
    none = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    status, _, body = post(proxy.url, f"{none}.{escalated}.")
    assert status == 401 and "unsigned (alg none)" in body, body
    assert mock.requests == []


def test_a_rotated_signing_key_is_fetched_on_its_first_token(mock, start_proxy, idp):
    proxy = start_proxy(config(mock, idp))
    status, _, body = post(proxy.url, idp.token("alice"))
    assert status != 401, body
    assert idp.hits == 1
    idp.new_key("k2")
    status, _, body = post(proxy.url, idp.token("alice", kid="k2"))
    assert status != 401, body
    assert idp.hits == 2, "one refresh for the new kid"
    # A key the issuer never published stays unknown, and does not make agw fetch again.
    idp.new_key("k3", publish=False)
    for _ in range(3):
        status, _, body = post(proxy.url, idp.token("alice", kid="k3"))
        assert status == 401 and 'unknown key (kid \\"k3\\")' in body, body
    assert idp.hits == 2


def test_budgets_are_per_token_identity(mock, start_proxy, workdir, idp):
    # The mock reports roughly body-size/4 input tokens: Claude Code's first request spends 100.
    proxy = start_proxy(config(mock, idp, bob_tokens=100))
    bob = idp.token("bob")
    first, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=bob)
    assert first.returncode == 0, first.stdout + first.stderr
    spent = len(mock.requests)
    # A fresh token of the same identity shares the budget.
    second, elapsed = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=idp.token("bob", jti="2"))
    output = second.stdout + second.stderr
    assert "429" in output and "rate limit of 100 tokens per day (UTC) reached" in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert len(mock.requests) == spent
    third, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=idp.token("alice"))
    assert third.returncode == 0, "the budget is bob's only"
