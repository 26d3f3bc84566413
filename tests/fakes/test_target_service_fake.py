"""Tests of the runbook target fake (BuildFlow AI, status pages, Anthropic) with a real httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from .target_service import FakeTarget, Recorded

COOKIE = "next-auth.session-token=admin-s3cr3t-cookie"
CRON = "cron-s3cr3t-7781"
API_KEY = "sk-ant-fake-0123456789"
VERSION = {"anthropic-version": "2023-06-01"}
MSG_BODY = {
    "model": "claude-haiku-4-5-20251001",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTarget]:
    async with FakeTarget(expected_cookie=COOKIE, cron_secret=CRON, anthropic_key=API_KEY) as f:
        yield f


@pytest.fixture
async def client(fake: FakeTarget) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, timeout=5.0) as c:
        yield c


# ---------------------------------------------------------------- lifecycle and recording


async def test_url_binds_random_local_port_and_stop_closes_it() -> None:
    fake = FakeTarget()
    await fake.start()
    try:
        assert fake.port > 0
        assert fake.url == f"http://127.0.0.1:{fake.port}"
        assert not fake.url.endswith("/")
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{fake.url}/api/health")).status_code == 200
    finally:
        await fake.stop()
    async with httpx.AsyncClient() as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(f"{fake.url}/api/health")


async def test_records_method_path_query_headers_body_json(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    before = time.monotonic()
    await client.post(
        "/api/admin/maintenance",
        params={"a": "1"},
        headers={"Cookie": COOKIE, "X-Custom-Header": "Value"},
        json={"message": "down"},
    )
    [r] = fake.requests
    assert isinstance(r, Recorded)
    assert (r.method, r.path, r.query) == ("POST", "/api/admin/maintenance", {"a": "1"})
    assert r.headers["X-Custom-Header"] == "Value"  # case preserved as sent
    assert r.header("x-custom-header") == "Value"
    assert r.header("COOKIE") == COOKIE
    assert r.header("X-Absent") is None
    assert r.json == {"message": "down"}
    assert b'"message"' in r.body
    assert before <= r.at <= time.monotonic()
    assert r.status == 200


async def test_non_json_body_is_recorded_with_json_none(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/messages", content=b"not json", headers={"x-api-key": API_KEY})
    [r] = fake.requests
    assert r.body == b"not json"
    assert r.json is None


async def test_unknown_path_is_404_json_and_recorded(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    resp = await client.get("/api/nope", params={"x": "y"})
    assert resp.status_code == 404
    assert resp.json() == {"error": "not found", "path": "/api/nope"}
    assert [(r.method, r.path, r.query) for r in fake.requests] == [
        ("GET", "/api/nope", {"x": "y"})
    ]


async def test_wrong_method_on_known_path_is_405(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/admin/maintenance", headers={"Cookie": COOKIE})
    assert resp.status_code == 405


async def test_requests_to_filters_by_path_and_method(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    await client.post("/api/admin/maintenance", headers={"Cookie": COOKIE}, json={"message": "m"})
    await client.delete("/api/admin/maintenance", headers={"Cookie": COOKIE})
    await client.get("/api/health")
    assert len(fake.requests_to("/api/admin/maintenance")) == 2
    assert [r.method for r in fake.requests_to("/api/admin/maintenance", "delete")] == ["DELETE"]
    assert fake.requests_to("/api/health", "POST") == []


async def test_wait_for_returns_matching_requests_once_they_arrive(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    waiter = asyncio.create_task(fake.wait_for("/api/health", "GET", count=2, timeout=2.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await client.get("/api/health")
    await client.get("/api/health")
    got = await waiter
    assert [r.path for r in got] == ["/api/health", "/api/health"]


async def test_wait_for_timeout_raises_with_what_was_requested(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    await client.get("/api/health")
    with pytest.raises(AssertionError) as exc:
        await fake.wait_for("/api/admin/maintenance", "POST", timeout=0.1)
    message = str(exc.value)
    assert "POST /api/admin/maintenance" in message
    assert "GET /api/health -> 200" in message


# ---------------------------------------------------------------- health


async def test_health_default_is_healthy(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/health")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "healthy",
        "database": {"status": "ok", "diskStatus": "ok", "connections": 12},
        "checks": {"slowQueries": {"sinceLastRestart": 0, "lastHour": 0}},
        "diskStatus": "ok",
        "slowQueries": 0,
    }


async def test_set_health_unhealthy_then_restore(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    fake.set_health(status="unhealthy", disk="critical", http_status=503, slow_queries=5)
    resp = await client.get("/api/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unhealthy"
    assert body["diskStatus"] == "critical"
    assert body["database"]["diskStatus"] == "critical"
    assert body["database"]["status"] != "ok"
    assert body["checks"]["slowQueries"]["sinceLastRestart"] == 5
    assert body["slowQueries"] == 5

    fake.set_health("healthy", "ok", 200)
    resp = await client.get("/api/health")
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["database"]["status"]) == ("healthy", "ok")


# ---------------------------------------------------------------- maintenance


async def test_maintenance_on_and_off(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    assert fake.maintenance is False
    resp = await client.post(
        "/api/admin/maintenance", headers={"Cookie": COOKIE}, json={"message": "outage"}
    )
    assert resp.status_code == 200
    assert resp.json() == {"maintenance": True, "message": "outage"}
    assert fake.maintenance is True
    assert fake.maintenance_message == "outage"

    resp = await client.delete("/api/admin/maintenance", headers={"Cookie": COOKIE})
    assert resp.status_code == 200
    assert resp.json() == {"maintenance": False}
    assert fake.maintenance is False


@pytest.mark.parametrize("headers", [{}, {"Cookie": "next-auth.session-token=wrong"}])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_maintenance_requires_the_admin_cookie(
    fake: FakeTarget, client: httpx.AsyncClient, headers: dict[str, str], method: str
) -> None:
    fake.maintenance = method == "DELETE"
    resp = await client.request(
        method, "/api/admin/maintenance", headers=headers, json={"message": "m"}
    )
    assert resp.status_code == 401
    assert resp.json() == {"error": "unauthorized"}
    assert fake.maintenance is (method == "DELETE")  # unchanged


async def test_maintenance_post_without_message_is_400(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    resp = await client.post("/api/admin/maintenance", headers={"Cookie": COOKIE}, json={})
    assert resp.status_code == 400
    assert fake.maintenance is False


async def test_default_fake_accepts_any_non_empty_cookie_and_bearer() -> None:
    async with FakeTarget() as fake, httpx.AsyncClient(base_url=fake.url) as c:
        ok = await c.delete("/api/admin/maintenance", headers={"Cookie": "anything"})
        empty = await c.delete("/api/admin/maintenance", headers={"Cookie": ""})
        cron = await c.get("/api/cron/db-health", headers={"Authorization": "Bearer whatever"})
        no_token = await c.get("/api/cron/db-health", headers={"Authorization": "Bearer"})
        basic = await c.get("/api/cron/db-health", headers={"Authorization": "Basic abc"})
        claude = await c.post("/v1/messages", headers={"x-api-key": "k", **VERSION}, json=MSG_BODY)
    assert (ok.status_code, empty.status_code) == (200, 401)
    assert (cron.status_code, no_token.status_code, basic.status_code) == (200, 401, 401)
    assert claude.status_code == 200


# ---------------------------------------------------------------- session revocation


@pytest.mark.parametrize(("query", "expected"), [({"exceptAdmins": "true"}, 1231), ({}, 1234)])
async def test_revoke_all_dry_run(
    client: httpx.AsyncClient, query: dict[str, str], expected: int
) -> None:
    resp = await client.get(
        "/api/admin/sessions/revoke-all", params=query, headers={"Cookie": COOKIE}
    )
    assert resp.status_code == 200
    assert resp.json() == {"dryRun": True, "wouldRevoke": expected, "count": expected}


async def test_revoke_all_dry_run_uses_session_attributes(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    fake.sessions, fake.admin_sessions = 50, 5
    resp = await client.get(
        "/api/admin/sessions/revoke-all?exceptAdmins=true", headers={"Cookie": COOKIE}
    )
    assert resp.json()["wouldRevoke"] == 45


@pytest.mark.parametrize(("except_admins", "expected"), [(False, 1234), (True, 1231)])
async def test_revoke_all_execute(
    fake: FakeTarget, client: httpx.AsyncClient, except_admins: bool, expected: int
) -> None:
    resp = await client.post(
        "/api/admin/sessions/revoke-all",
        headers={"Cookie": COOKIE},
        json={"reason": "breach", "exceptAdmins": except_admins},
    )
    assert resp.status_code == 200
    assert resp.json() == {"revoked": expected, "count": expected}
    # The sessions are gone now: a second dry run has nothing (but admins, if kept) left.
    again = await client.get("/api/admin/sessions/revoke-all", headers={"Cookie": COOKIE})
    assert again.json()["wouldRevoke"] == (3 if except_admins else 0)


@pytest.mark.parametrize(
    "body",
    [
        {"exceptAdmins": False},
        {"reason": "", "exceptAdmins": False},
        {"reason": "breach"},
        {"reason": "breach", "exceptAdmins": "false"},
    ],
)
async def test_revoke_all_execute_validates_body(
    fake: FakeTarget, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    resp = await client.post(
        "/api/admin/sessions/revoke-all", headers={"Cookie": COOKIE}, json=body
    )
    assert resp.status_code == 400
    assert fake.sessions == 1234


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_revoke_all_requires_the_admin_cookie(
    fake: FakeTarget, client: httpx.AsyncClient, method: str
) -> None:
    resp = await client.request(
        method,
        "/api/admin/sessions/revoke-all",
        headers={"Cookie": "wrong"},
        json={"reason": "r", "exceptAdmins": False},
    )
    assert resp.status_code == 401
    assert resp.json() == {"error": "unauthorized"}
    assert fake.sessions == 1234


# ---------------------------------------------------------------- cron and rate limits


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("cleanup-previews", {"ok": True, "deleted": 17}),
        ("webhook-retries", {"ok": True, "retried": 4}),
        ("db-health", {"ok": True, "sizeMb": 312, "backupGapHours": 3}),
        ("drip-emails", {"ok": True, "sent": 42}),
    ],
)
async def test_cron_jobs_with_the_secret(
    client: httpx.AsyncClient, job: str, expected: dict[str, object]
) -> None:
    resp = await client.get(f"/api/cron/{job}", headers={"Authorization": f"Bearer {CRON}"})
    assert resp.status_code == 200
    assert resp.json() == expected


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": CRON}]
)
async def test_cron_requires_the_bearer_secret(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    resp = await client.get("/api/cron/cleanup-previews", headers=headers)
    assert resp.status_code == 401
    assert resp.json() == {"error": "unauthorized"}


async def test_rate_limits(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/admin/rate-limits")
    assert resp.status_code == 200
    assert resp.json() == {"alerting": False, "blockedRatio": 0.02}


# ---------------------------------------------------------------- Anthropic


async def test_anthropic_messages_happy_path(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1/messages", headers={"x-api-key": API_KEY, **VERSION}, json=MSG_BODY
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["model"] == "claude-haiku-4-5-20251001"
    assert (body["id"], body["type"], body["role"]) == ("msg_fake", "message", "assistant")
    assert body["content"] == [{"type": "text", "text": "hi"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"] == {"input_tokens": 8, "output_tokens": 1}


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": "sk-ant-wrong", **VERSION}, {"x-api-key": API_KEY}],
    ids=["no-key", "wrong-key", "no-version"],
)
async def test_anthropic_auth_failures(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    resp = await client.post("/v1/messages", headers=headers, json=MSG_BODY)
    assert resp.status_code == 401
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"]


async def test_anthropic_without_model_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1/messages", headers={"x-api-key": API_KEY, **VERSION}, json={"messages": []}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


# ---------------------------------------------------------------- status pages


async def test_status_page_default_and_change(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    base = fake.status_page_url("supabase")
    assert base == f"{fake.url}/status/supabase"
    resp = await client.get(f"{base}/api/v2/status.json")
    assert resp.status_code == 200
    body = resp.json()
    assert body["page"]["name"] == "supabase"
    assert body["page"]["id"] == "x"
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}

    fake.set_status_page("supabase", "major", "Database degraded")
    body = (await client.get(f"{base}/api/v2/status.json")).json()
    assert body["status"] == {"indicator": "major", "description": "Database degraded"}
    # Other pages are unaffected.
    other = (await client.get(f"{fake.status_page_url('upstash')}/api/v2/status.json")).json()
    assert other["status"]["indicator"] == "none"
    assert other["page"]["name"] == "upstash"


async def test_status_page_summary_and_bad_paths(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    fake.set_status_page("stripe", "critical")
    summary = await client.get("/status/stripe/api/v2/summary.json")
    assert summary.json()["status"] == {
        "indicator": "critical",
        "description": "Major System Outage",
    }
    assert summary.json()["components"] == []
    assert (await client.get("/status/stripe/api/v2/nope.json")).status_code == 404
    assert (await client.get("/status/stripe")).status_code == 404


def test_set_status_page_rejects_unknown_indicator() -> None:
    with pytest.raises(ValueError):
        FakeTarget().set_status_page("x", "broken")


# ---------------------------------------------------------------- fault injection


async def test_fail_times_then_recovers(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.fail("/api/health", status=502, body="bad gateway", times=2)
    first = await client.get("/api/health")
    second = await client.get("/api/health")
    third = await client.get("/api/health")
    assert (first.status_code, first.text) == (502, "bad gateway")
    assert second.status_code == 502
    assert third.status_code == 200
    assert [r.status for r in fake.requests] == [502, 502, 200]


async def test_fail_default_is_one_500_boom(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.fail("/api/admin/rate-limits")
    resp = await client.get("/api/admin/rate-limits")
    assert (resp.status_code, resp.text) == (500, "boom")
    assert (await client.get("/api/admin/rate-limits")).status_code == 200


async def test_fail_respects_method_and_path(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.fail("/api/admin/maintenance", method="DELETE", status=503)
    post = await client.post(
        "/api/admin/maintenance", headers={"Cookie": COOKIE}, json={"message": "m"}
    )
    health = await client.get("/api/health")
    delete = await client.delete("/api/admin/maintenance", headers={"Cookie": COOKIE})
    assert (post.status_code, health.status_code, delete.status_code) == (200, 200, 503)
    assert fake.maintenance is True  # the failed DELETE did not take effect


async def test_fail_until_reset_and_json_body(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.fail("*", status=429, body={"error": "slow down"}, times=None)
    for path in ("/api/health", "/v1/messages", "/api/cron/db-health"):
        resp = await client.get(path)
        assert resp.status_code == 429
        assert resp.json() == {"error": "slow down"}
    fake.reset()
    assert fake.requests == []
    assert (await client.get("/api/health")).status_code == 200


async def test_delay_makes_client_time_out(fake: FakeTarget) -> None:
    fake.delay("/api/health", 0.4)
    async with httpx.AsyncClient(base_url=fake.url, timeout=0.1) as c:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            await c.get("/api/health")
        assert time.monotonic() - started < 0.35
        # Other paths answer promptly.
        assert (await c.get("/api/admin/rate-limits")).status_code == 200
    assert len(fake.requests_to("/api/health")) == 1


async def test_delay_within_timeout_still_answers(fake: FakeTarget) -> None:
    fake.delay("/api/health", 0.2)
    async with httpx.AsyncClient(base_url=fake.url, timeout=2.0) as c:
        started = time.monotonic()
        resp = await c.get("/api/health")
        assert time.monotonic() - started >= 0.2
    assert resp.status_code == 200


async def test_echo_secrets_on_error_reflects_cookie_in_fail_text(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    fake.fail("/api/admin/maintenance", status=500)
    plain = await client.post(
        "/api/admin/maintenance", headers={"Cookie": COOKIE}, json={"message": "m"}
    )
    assert COOKIE not in plain.text

    fake.echo_secrets_on_error(True)
    fake.fail("/api/admin/maintenance", status=500)
    echoed = await client.post(
        "/api/admin/maintenance?token=q-s3cr3t",
        headers={"Cookie": COOKIE},
        json={"message": "body-s3cr3t"},
    )
    assert echoed.status_code == 500
    assert echoed.text.startswith("boom")
    assert COOKIE in echoed.text
    assert "q-s3cr3t" in echoed.text
    assert "body-s3cr3t" in echoed.text


async def test_echo_secrets_on_auth_failures(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.echo_secrets_on_error(True)
    cookie = await client.delete("/api/admin/maintenance", headers={"Cookie": "stolen-cookie-1"})
    cron = await client.get(
        "/api/cron/drip-emails", headers={"Authorization": "Bearer stale-cron-2"}
    )
    claude = await client.post(
        "/v1/messages", headers={"x-api-key": "sk-ant-old-3", **VERSION}, json=MSG_BODY
    )
    assert (cookie.status_code, cron.status_code, claude.status_code) == (401, 401, 401)
    assert cookie.json()["error"] == "unauthorized"
    assert "stolen-cookie-1" in cookie.text
    assert "stale-cron-2" in cron.text
    assert "sk-ant-old-3" in claude.json()["error"]["message"]
    # Successful answers never echo.
    ok = await client.delete("/api/admin/maintenance", headers={"Cookie": COOKIE})
    assert COOKIE not in ok.text


async def test_redirect_gives_location(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.redirect("/api/health", "https://login.example.com/sso", status=307)
    resp = await client.get("/api/health")
    assert resp.status_code == 307
    assert resp.headers["Location"] == "https://login.example.com/sso"
    fake.redirect("/api/admin/rate-limits", "/api/health")
    moved = await client.get("/api/admin/rate-limits")
    assert moved.status_code == 302
    assert moved.headers["location"] == "/api/health"


async def test_non_json(fake: FakeTarget, client: httpx.AsyncClient) -> None:
    fake.non_json("/api/health")
    resp = await client.get("/api/health")
    assert resp.status_code == 200
    assert resp.text == "<html>oops</html>"
    assert resp.headers["content-type"].startswith("text/html")
    fake.non_json("/api/cron/db-health", text="<h1>Bad Gateway</h1>", status=502)
    bad = await client.get("/api/cron/db-health", headers={"Authorization": f"Bearer {CRON}"})
    assert (bad.status_code, bad.text) == (502, "<h1>Bad Gateway</h1>")


async def test_reset_clears_requests_and_faults_but_keeps_state(
    fake: FakeTarget, client: httpx.AsyncClient
) -> None:
    await client.post("/api/admin/maintenance", headers={"Cookie": COOKIE}, json={"message": "m"})
    fake.fail("/api/health", times=None)
    fake.delay("/api/health", 0.5)
    fake.redirect("/api/admin/rate-limits", "/elsewhere")
    fake.non_json("/api/cron/db-health")
    fake.echo_secrets_on_error(True)
    fake.reset()
    assert fake.requests == []
    started = time.monotonic()
    assert (await client.get("/api/health")).status_code == 200
    assert time.monotonic() - started < 0.4
    assert (await client.get("/api/admin/rate-limits")).status_code == 200
    cron = await client.get("/api/cron/db-health", headers={"Authorization": f"Bearer {CRON}"})
    assert cron.json()["ok"] is True
    denied = await client.get("/api/cron/db-health", headers={"Authorization": "Bearer leak-me"})
    assert "leak-me" not in denied.text
    assert fake.maintenance is True
