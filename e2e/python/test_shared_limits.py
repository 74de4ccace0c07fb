"""Budgets shared by two real agw-proxy replicas through a real redis-server
(`--rate-limit-redis`): a request budget admits exactly its amount across both, a token budget
spent through one refuses on the other, and a Redis that dies leaves requests answered by each
replica's own count (never unlimited) with the failures in a metric; a Redis that hangs opens
the replica's breaker (agw_rate_limit_store_up 0) until a probe finds it answering again.

redis-server comes from hack/redis/install.sh (hack/test.sh exports AGW_REDIS_SERVER); each
test starts its own on a free loopback port without persistence and kills it at the end."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import Proxy, free_port

BACKEND = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData: {{Authorization: sk-ant-proxy-key}}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider: {{anthropic: {{}}, host: 127.0.0.1, port: {port}}}
  policies:
    auth: {{secretRef: {{name: anthropic-secret}}}}
    rateLimit:
      local:
{limits}
"""


class Redis:
    """A redis-server of one test: free loopback port, no RDB or AOF; killed at the end."""

    def __init__(self, binary: str):
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise AssertionError("redis-server did not start")
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args: str, timeout: float = 10) -> bytes | None:
        """One command over a raw socket (RESP): a status or error line, a number's digits,
        a bulk string, or None."""
        request = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            connection.sendall(request)
            reply = b""
            while True:
                chunk = connection.recv(4096)
                assert chunk, f"Redis closed the connection after {reply!r}"
                reply += chunk
                head, _, rest = reply.partition(b"\r\n")
                if not _:
                    continue
                if not head.startswith(b"$"):
                    return head
                size = int(head[1:])
                if size < 0:
                    return None
                if len(rest) >= size + 2:
                    return rest[:size]

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis():
    binary = os.environ.get("AGW_REDIS_SERVER")
    if not binary:
        # A missing server fails, as any missing test component does; skipping is asked for.
        if os.environ.get("AGW_SKIP_REDIS") != "1":
            pytest.fail("AGW_REDIS_SERVER is unset: run hack/redis/install.sh and export what it prints "
                        "(hack/test.sh does), or set AGW_SKIP_REDIS=1 to skip the Redis tests")
        pytest.skip("AGW_SKIP_REDIS=1: the tests against redis-server are skipped on request")
    server = Redis(binary)
    yield server
    server.stop()


@pytest.fixture
def replicas(workdir, mock, redis):
    """Two proxies on the same Backend manifest sharing `redis`: A by the flag, B by the variable."""
    started = []

    def start(limits: str) -> tuple[Proxy, Proxy]:
        text = BACKEND.format(port=mock.port, limits=limits)
        for name in ("a", "b"):
            (workdir / name).mkdir()
        a = Proxy(workdir / "a", text, "--rate-limit-redis", redis.url)
        started.append(a)
        b = Proxy(workdir / "b", text, env={"AGW_RATE_LIMIT_REDIS": redis.url})
        started.append(b)
        return a, b

    yield start
    for proxy in started:
        proxy.stop()


def post(proxy: Proxy) -> tuple[int, dict, dict]:
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "What is Kubernetes?"}]}).encode()
    request = urllib.request.Request(f"{proxy.url}/v1/messages", data=body, method="POST",
                                     headers={"content-type": "application/json", "x-api-key": "dummy"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def metric(proxy: Proxy, name: str, labels: str) -> float:
    text = proxy.admin("/metrics")[1]
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def early_in_a_minute():
    """A per-minute budget's test must not straddle two windows: start it early in a minute."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_a_request_budget_admits_exactly_its_amount_across_two_replicas(replicas, mock):
    a, b = replicas("      - {requests: 5, unit: Minutes}")
    early_in_a_minute()
    for n in range(5):
        status, _, body = post((a, b)[n % 2])
        assert status == 200, body
    for proxy in (a, b):
        status, headers, body = post(proxy)
        assert status == 429, body
        assert body["error"]["type"] == "rate_limit_error", body
        assert "5 requests per minute" in body["error"]["message"], body
        assert 1 <= int(headers["retry-after"]) <= 60, headers
    assert len(mock.messages_requests()) == 5, "the replicas together admitted more than the budget"
    # In process only, each replica would have admitted 5 of its own.
    for proxy in (a, b):
        assert metric(proxy, "agw_rate_limit_store_errors_total", 'operation="admit"') == 0


def test_a_token_budget_spent_through_one_replica_refuses_on_the_other(replicas, mock):
    a, b = replicas("      - {tokens: 20, unit: Days}")
    status, _, body = post(a)
    assert status == 200, body
    spent = body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    assert spent >= 20, f"the first request must spend the budget, it used {spent} tokens"
    # The charge is written to Redis when the response ends, after the client has it.
    deadline = time.time() + 5
    while metric(a, "agw_client_tokens_total", 'backend="default/anthropic",identity=""') < spent:
        assert time.time() < deadline, a.admin("/metrics")[1]
        time.sleep(0.05)
    time.sleep(0.3)
    status, headers, body = post(b)
    assert status == 429, body
    assert body["error"]["type"] == "rate_limit_error", body
    assert "20 tokens per day (UTC)" in body["error"]["message"], body
    assert int(headers["retry-after"]) >= 1, headers
    assert len(mock.messages_requests()) == 1


def test_a_dead_redis_leaves_each_replica_its_own_bound_and_counts_the_failures(replicas, mock, redis):
    a, b = replicas("      - {requests: 4, unit: Minutes}")
    early_in_a_minute()
    for proxy in (a, b):
        status, _, body = post(proxy)
        assert status == 200, body
    redis.stop()
    # A admitted 1 of 4 through Redis: on its own it may admit 3 more, then refuses.
    answered = []
    for _ in range(4):
        started = time.time()
        answered.append(post(a)[0])
        assert time.time() - started < 2, "a request waited on the dead Redis"
    assert answered == [200, 200, 200, 429], answered
    assert post(b)[0] == 200, "B decides by its own count as well"
    # The first failure opens A's breaker: the next requests do not ask Redis for a second
    # (one more failure per probe if this loop was slower than that).
    errors = metric(a, "agw_rate_limit_store_errors_total", 'operation="admit"')
    assert 1 <= errors < 4, a.admin("/metrics")[1]
    assert metric(b, "agw_rate_limit_store_errors_total", 'operation="admit"') == 1
    assert metric(a, "agw_rate_limit_store_up", f'redis="127.0.0.1:{redis.port}"') == 0
    assert a.logs().count("rate-limit store failed") == 1, a.logs()
    assert len(mock.messages_requests()) == 6


def test_a_hanging_redis_opens_the_breaker_until_it_answers_again(replicas, mock, redis):
    a, _ = replicas("      - {requests: 100, unit: Minutes}")
    up = f'redis="127.0.0.1:{redis.port}"'
    early_in_a_minute()
    assert post(a)[0] == 200
    assert metric(a, "agw_rate_limit_store_up", up) == 1
    # Redis accepts and reads but answers nobody for 3 s.
    assert redis.command("CLIENT", "PAUSE", "3000", "ALL") == b"+OK"
    answered = [post(a)[0] for _ in range(10)]
    assert answered == [200] * 10, answered
    assert metric(a, "agw_rate_limit_store_up", up) == 0
    # The first request waited for the timeout; the others were decided without asking Redis
    # (each would have timed out too), but for a probe if this loop outlasted the cool-down.
    errors = metric(a, "agw_rate_limit_store_errors_total", 'operation="admit"')
    assert 1 <= errors <= 3, a.admin("/metrics")[1]
    # CLIENT UNPAUSE is held by the pause itself: it answers once the pause is over.
    assert redis.command("CLIENT", "UNPAUSE") == b"+OK"
    deadline = time.time() + 10
    while metric(a, "agw_rate_limit_store_up", up) != 1:
        assert time.time() < deadline, a.logs()
        assert post(a)[0] == 200
        time.sleep(0.2)
    assert metric(a, "agw_rate_limit_store_errors_total", 'operation="admit"') == errors
    # Redis counts again: the next request adds to the backend's counter of this minute.
    backend = "default/anthropic"
    key = f"agw:rl:v1:requests:60s:{int(time.time()) // 60}:{len(backend)}:{backend}:backend"
    before = int(redis.command("GET", key) or 0)
    assert post(a)[0] == 200
    assert int(redis.command("GET", key) or 0) == before + 1
    assert a.logs().count("rate-limit store failed") == 1, a.logs()
    assert "rate-limit store answers again" in a.logs(), a.logs()
