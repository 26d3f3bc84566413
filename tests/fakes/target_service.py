"""A local fake of everything the runbook actions call: BuildFlow AI, status pages, Anthropic.

One aiohttp server on 127.0.0.1 (random port) answers, per /work/shared/seed/RUNBOOK.md:

- BuildFlow AI: ``/api/health``, ``/api/admin/maintenance`` (POST/DELETE, admin ``Cookie``),
  ``/api/admin/sessions/revoke-all`` (GET dry run / POST, admin ``Cookie``), the four
  ``/api/cron/*`` jobs (``Authorization: Bearer $CRON_SECRET``) and ``/api/admin/rate-limits``;
- Anthropic: ``POST /v1/messages`` (``x-api-key`` + ``anthropic-version``);
- Statuspage-style pages: ``GET /status/<name>/api/v2/status.json`` (and ``summary.json``).

It records every request (unknown paths too, answered 404) and lets a test inject failures,
latency, redirects, non-JSON answers, and error answers that echo the request's secrets back so
the bot's redaction of error text can be proven.

State changes happen *before* an injected delay, so a request the client gave up on may still
have taken effect -- as with a real slow server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import bind

POLL_INTERVAL = 0.01
ANY = "*"  # path wildcard for fault injection

CRON_RESULTS: dict[str, dict[str, Any]] = {
    "cleanup-previews": {"ok": True, "deleted": 17},
    "webhook-retries": {"ok": True, "retried": 4},
    "db-health": {"ok": True, "sizeMb": 312, "backupGapHours": 3},
    "drip-emails": {"ok": True, "sent": 42},
}

STATUS_INDICATORS: dict[str, str] = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


@dataclass
class Recorded:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names as the client sent them
    body: bytes
    json: Any | None  # the body parsed as JSON, None if empty or not JSON
    at: float  # time.monotonic() on arrival
    status: int = 0  # what the fake answered (set before any injected delay)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class _Fail:
    path: str
    method: str | None
    status: int
    body: str | dict[str, Any]
    remaining: int | None  # None: until reset()


@dataclass
class _StatusPage:
    name: str
    indicator: str = "none"
    description: str = STATUS_INDICATORS["none"]


@dataclass
class _Answer:
    """A response decided synchronously, sent after any injected delay."""

    status: int
    json: Any = None
    text: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> web.Response:
        if self.text is not None:
            return web.Response(
                status=self.status,
                text=self.text,
                content_type=self.content_type,
                headers=self.headers,
            )
        if self.json is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.json, status=self.status, headers=self.headers)


Handler = Callable[[Recorded], _Answer]


class FakeTarget:
    """Fake BuildFlow AI + status pages + Anthropic on one local aiohttp server."""

    def __init__(
        self,
        *,
        expected_cookie: str | None = None,
        cron_secret: str | None = None,
        anthropic_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        # None means "any non-empty credential", so tests that do not care need no setup.
        self.expected_cookie = expected_cookie
        self.cron_secret = cron_secret
        self.anthropic_key = anthropic_key
        self.host = host
        self.port = port

        self.requests: list[Recorded] = []

        # BuildFlow AI state, public so tests can set or inspect it directly.
        self.maintenance: bool = False
        self.maintenance_message: str | None = None
        self.sessions: int = 1234
        self.admin_sessions: int = 3
        self.health_status: str = "healthy"
        self.disk_status: str = "ok"
        self.database_status: str = "ok"
        self.connections: int = 12
        self.slow_queries: int = 0
        self.health_http_status: int = 200
        self.rate_limits: dict[str, Any] = {"alerting": False, "blockedRatio": 0.02}
        self.cron_results: dict[str, dict[str, Any]] = {k: dict(v) for k, v in CRON_RESULTS.items()}
        self.anthropic_reply: str = "hi"
        self.status_pages: dict[str, _StatusPage] = {}

        self._fails: list[_Fail] = []
        self._delays: dict[str, float] = {}
        self._redirects: dict[str, tuple[str, int]] = {}
        self._non_json: dict[str, tuple[str, int]] = {}
        self._echo_secrets = False
        self._msg_counter = 0
        self._runner: web.AppRunner | None = None

        # (path, method) -> handler; a known path with another method answers 405.
        self._routes: dict[tuple[str, str], Handler] = {
            ("/api/health", "GET"): self._health,
            ("/api/admin/maintenance", "POST"): self._maintenance_on,
            ("/api/admin/maintenance", "DELETE"): self._maintenance_off,
            ("/api/admin/sessions/revoke-all", "GET"): self._revoke_dry_run,
            ("/api/admin/sessions/revoke-all", "POST"): self._revoke_all,
            ("/api/admin/rate-limits", "GET"): self._rate_limits,
            ("/v1/messages", "POST"): self._anthropic_messages,
        }
        for job in CRON_RESULTS:
            self._routes[(f"/api/cron/{job}", "GET")] = self._cron_handler(job)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeTarget:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await bind(app, self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def status_page_url(self, name: str) -> str:
        """Base URL of a fake status page, e.g. for ``STATUS_SUPABASE_URL``."""
        return f"{self.url}/status/{name}"

    # ------------------------------------------------------------------ state setters

    def set_health(
        self,
        status: str = "unhealthy",
        disk: str = "critical",
        http_status: int = 503,
        *,
        database: str | None = None,
        connections: int | None = None,
        slow_queries: int | None = None,
    ) -> None:
        """Change what ``/api/health`` answers; ``set_health("healthy", "ok", 200)`` restores."""
        self.health_status = status
        self.disk_status = disk
        self.health_http_status = http_status
        self.database_status = database or ("ok" if status == "healthy" else "error")
        if connections is not None:
            self.connections = connections
        if slow_queries is not None:
            self.slow_queries = slow_queries

    def set_status_page(self, name: str, indicator: str, description: str | None = None) -> None:
        if indicator not in STATUS_INDICATORS:
            raise ValueError(f"indicator must be one of {sorted(STATUS_INDICATORS)}")
        self.status_pages[name] = _StatusPage(
            name, indicator, description or STATUS_INDICATORS[indicator]
        )

    # ------------------------------------------------------------------ fault injection

    def fail(
        self,
        path: str,
        *,
        status: int = 500,
        body: str | dict[str, Any] = "boom",
        times: int | None = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` ("*": any) with ``status``/``body``.

        ``times=None`` keeps failing until ``reset()``. A dict body is sent as JSON.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        self._fails.append(_Fail(path, method.upper() if method else None, status, body, times))

    def delay(self, path: str, seconds: float) -> None:
        """Hold every answer to ``path`` ("*": any) for ``seconds`` until ``reset()``."""
        self._delays[path] = seconds

    def echo_secrets_on_error(self, on: bool) -> None:
        """While on, error answers carry the request's headers, query and body verbatim."""
        self._echo_secrets = on

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self._redirects[path] = (location, status)

    def non_json(self, path: str, text: str = "<html>oops</html>", status: int = 200) -> None:
        """Answer ``path`` with an HTML body, as a proxy or login page would."""
        self._non_json[path] = (text, status)

    def reset(self) -> None:
        """Forget requests and faults; keep service state (maintenance, health, pages...)."""
        self.requests.clear()
        self._fails.clear()
        self._delays.clear()
        self._redirects.clear()
        self._non_json.clear()
        self._echo_secrets = False

    # ------------------------------------------------------------------ recording helpers

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        wanted = method.upper() if method else None
        return [
            r for r in self.requests if r.path == path and (wanted is None or r.method == wanted)
        ]

    def describe_requests(self) -> str:
        if not self.requests:
            return "  (no requests)"
        lines = []
        for r in self.requests:
            query = "?" + "&".join(f"{k}={v}" for k, v in r.query.items()) if r.query else ""
            lines.append(f"  {r.method} {r.path}{query} -> {r.status}")
        return "\n".join(lines)

    async def wait_for(
        self,
        path: str,
        method: str | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - polling helper; the name is the agreed API
    ) -> list[Recorded]:
        """Wait until ``count`` matching requests arrived; return all matching so far."""
        deadline = time.monotonic() + timeout
        while True:
            matching = self.requests_to(path, method)
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                what = f"{method.upper()} {path}" if method else path
                raise AssertionError(
                    f"expected {count} request(s) to {what} within {timeout}s, got "
                    f"{len(matching)}; requests received:\n{self.describe_requests()}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    # ------------------------------------------------------------------ dispatch

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        # Join repeated headers as HTTP does, keeping the first-seen spelling of the name.
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = next((k for k in headers if k.lower() == name.lower()), name)
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            json=_parse_json(body),
            at=time.monotonic(),
        )
        self.requests.append(recorded)
        # Decide (and mutate state) synchronously so observers never see a half-done request.
        answer = self._answer(recorded)
        recorded.status = answer.status
        seconds = self._delays.get(recorded.path, self._delays.get(ANY, 0.0))
        if seconds > 0:
            await asyncio.sleep(seconds)
        return answer.to_response()

    def _answer(self, r: Recorded) -> _Answer:
        fail = self._take_fail(r)
        if fail is not None:
            if isinstance(fail.body, dict):
                return self._error(r, fail.status, dict(fail.body))
            text = fail.body
            if self._echo_secrets:
                text = f"{text}\n{_echo(r)}"
            return _Answer(fail.status, text=text, content_type="text/plain")
        redirect = self._lookup(self._redirects, r.path)
        if redirect is not None:
            location, status = redirect
            return _Answer(status, headers={"Location": location})
        html = self._lookup(self._non_json, r.path)
        if html is not None:
            text, status = html
            return _Answer(status, text=text, content_type="text/html")

        handler = self._routes.get((r.path, r.method))
        if handler is not None:
            return handler(r)
        if any(path == r.path for path, _ in self._routes):
            return self._error(r, 405, {"error": "method not allowed"})
        if r.path.startswith("/status/"):
            return self._status_page(r)
        return self._error(r, 404, {"error": "not found", "path": r.path})

    def _take_fail(self, r: Recorded) -> _Fail | None:
        for fail in self._fails:
            if fail.path in (r.path, ANY) and fail.method in (None, r.method):
                if fail.remaining is not None:
                    fail.remaining -= 1
                    if fail.remaining <= 0:
                        self._fails.remove(fail)
                return fail
        return None

    @staticmethod
    def _lookup(rules: dict[str, tuple[str, int]], path: str) -> tuple[str, int] | None:
        return rules.get(path, rules.get(ANY))

    def _error(self, r: Recorded, status: int, body: dict[str, Any]) -> _Answer:
        if self._echo_secrets:
            # A careless server (or proxy) reflecting the request: the bot must redact this.
            body["detail"] = _echo(r)
        return _Answer(status, json=body)

    # ------------------------------------------------------------------ auth

    def _cookie_ok(self, r: Recorded) -> bool:
        cookie = (r.header("Cookie") or "").strip()
        if self.expected_cookie is None:
            return bool(cookie)
        return cookie == self.expected_cookie

    def _bearer_ok(self, r: Recorded) -> bool:
        auth = (r.header("Authorization") or "").strip()
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self.cron_secret is None or token == self.cron_secret

    def _unauthorized(self, r: Recorded) -> _Answer:
        return self._error(r, 401, {"error": "unauthorized"})

    # ------------------------------------------------------------------ BuildFlow AI routes

    def _health(self, r: Recorded) -> _Answer:
        body = {
            "status": self.health_status,
            "database": {
                "status": self.database_status,
                "diskStatus": self.disk_status,
                "connections": self.connections,
            },
            "checks": {
                "slowQueries": {
                    "sinceLastRestart": self.slow_queries,
                    "lastHour": self.slow_queries,
                }
            },
            "diskStatus": self.disk_status,
            "slowQueries": self.slow_queries,
        }
        # An unhealthy answer (503) is still the health JSON, not an error page.
        return _Answer(self.health_http_status, json=body)

    def _maintenance_on(self, r: Recorded) -> _Answer:
        if not self._cookie_ok(r):
            return self._unauthorized(r)
        payload = r.json if isinstance(r.json, dict) else {}
        message = payload.get("message")
        if not isinstance(message, str) or not message.strip():
            return self._error(r, 400, {"error": "message is required"})
        self.maintenance = True
        self.maintenance_message = message
        return _Answer(200, json={"maintenance": True, "message": message})

    def _maintenance_off(self, r: Recorded) -> _Answer:
        if not self._cookie_ok(r):
            return self._unauthorized(r)
        self.maintenance = False
        self.maintenance_message = None
        return _Answer(200, json={"maintenance": False})

    def _revocable(self, except_admins: bool) -> int:
        return max(self.sessions - self.admin_sessions, 0) if except_admins else self.sessions

    def _revoke_dry_run(self, r: Recorded) -> _Answer:
        if not self._cookie_ok(r):
            return self._unauthorized(r)
        n = self._revocable(r.query.get("exceptAdmins", "").lower() == "true")
        return _Answer(200, json={"dryRun": True, "wouldRevoke": n, "count": n})

    def _revoke_all(self, r: Recorded) -> _Answer:
        if not self._cookie_ok(r):
            return self._unauthorized(r)
        payload = r.json if isinstance(r.json, dict) else {}
        reason = payload.get("reason")
        except_admins = payload.get("exceptAdmins")
        if not isinstance(reason, str) or not reason.strip():
            return self._error(r, 400, {"error": "reason is required"})
        if not isinstance(except_admins, bool):
            return self._error(r, 400, {"error": "exceptAdmins must be a boolean"})
        n = self._revocable(except_admins)
        # Revoked sessions are gone: a later dry run reports what is left.
        self.sessions -= n
        if not except_admins:
            self.admin_sessions = 0
        return _Answer(200, json={"revoked": n, "count": n})

    def _rate_limits(self, r: Recorded) -> _Answer:
        return _Answer(200, json=dict(self.rate_limits))

    def _cron_handler(self, job: str) -> Handler:
        def handle(r: Recorded) -> _Answer:
            if not self._bearer_ok(r):
                return self._unauthorized(r)
            return _Answer(200, json=dict(self.cron_results[job]))

        return handle

    # ------------------------------------------------------------------ Anthropic

    def _anthropic_error(self, r: Recorded, status: int, kind: str, message: str) -> _Answer:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        if self._echo_secrets:
            body["error"]["message"] = f"{message}; {_echo(r)}"
        return _Answer(status, json=body)

    def _anthropic_messages(self, r: Recorded) -> _Answer:
        key = (r.header("x-api-key") or "").strip()
        if not key:
            return self._anthropic_error(
                r, 401, "authentication_error", "x-api-key header is required"
            )
        if self.anthropic_key is not None and key != self.anthropic_key:
            return self._anthropic_error(r, 401, "authentication_error", "invalid x-api-key")
        if not (r.header("anthropic-version") or "").strip():
            return self._anthropic_error(
                r, 401, "authentication_error", "anthropic-version: header is required"
            )
        payload = r.json if isinstance(r.json, dict) else None
        if payload is None or not isinstance(payload.get("model"), str):
            return self._anthropic_error(r, 400, "invalid_request_error", "model: Field required")
        if not isinstance(payload.get("messages"), list):
            return self._anthropic_error(
                r, 400, "invalid_request_error", "messages: Field required"
            )
        self._msg_counter += 1
        return _Answer(
            200,
            json={
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": payload["model"],
                "content": [{"type": "text", "text": self.anthropic_reply}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 8, "output_tokens": 1},
            },
            headers={"request-id": f"req_fake_{self._msg_counter}"},
        )

    # ------------------------------------------------------------------ status pages

    def _status_page(self, r: Recorded) -> _Answer:
        # /status/<name>/api/v2/<status|summary>.json
        parts = r.path.removeprefix("/status/").split("/")
        if (
            r.method != "GET"
            or len(parts) != 4
            or not parts[0]
            or parts[1:3] != ["api", "v2"]
            or parts[3] not in ("status.json", "summary.json")
        ):
            return self._error(r, 404, {"error": "not found", "path": r.path})
        name = parts[0]
        page = self.status_pages.get(name, _StatusPage(name))
        body: dict[str, Any] = {
            "page": {
                "id": "x",
                "name": page.name,
                "url": self.status_page_url(name),
                "updated_at": "2025-01-01T00:00:00.000Z",
            },
            "status": {"indicator": page.indicator, "description": page.description},
        }
        if parts[3] == "summary.json":
            body.update({"components": [], "incidents": [], "scheduled_maintenances": []})
        return _Answer(200, json=body)


def _parse_json(body: bytes) -> Any | None:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _echo(r: Recorded) -> str:
    """The request reflected verbatim (no escaping beyond what JSON encoding adds)."""
    headers = "; ".join(f"{k}: {v}" for k, v in r.headers.items())
    query = "&".join(f"{k}={v}" for k, v in r.query.items())
    body = r.body.decode("utf-8", errors="replace")
    return f"request {r.method} {r.path} headers=[{headers}] query=[{query}] body=[{body}]"
