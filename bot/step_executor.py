"""Running a runbook step against the real world: the HTTP request and the status-page check.

Safety rules live here: settings are substituted only at run time; only hosts named by the
runbooks are called; redirects are followed only on the same host; and what comes back is
reduced to a status, a time and the fields the runbook asked for, with secrets redacted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bot.runbooks import HttpStep, MissingSetting, RunbookSet, StatuspageStep, redact, substitute
from bot.runbooks.substitute import substitute_obj

DEFAULT_TIMEOUT = 10.0
MAX_REDIRECTS = 3
FIELD_VALUE_LIMIT = 120
GOOD_INDICATORS = frozenset({"none"})


@dataclass(frozen=True)
class Outcome:
    ok: bool
    summary: str
    http_status: int | None = None
    elapsed_ms: int | None = None


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_hosts(runbooks: RunbookSet, values: Mapping[str, str | None]) -> set[str]:
    """scheme://host:port of every URL the runbooks can call, with today's settings."""
    hosts: set[str] = set()
    for runbook in runbooks:
        for _phase, step in runbook.steps():
            if isinstance(step, HttpStep | StatuspageStep):
                try:
                    hosts.add(_netloc(substitute(step.url, values, _AnyInputs())))
                except MissingSetting:
                    continue
    return hosts


class _AnyInputs(dict[str, object]):
    """Inputs placeholder for working out hosts: any input is an empty string."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> object:
        return ""


def pick(data: Any, path: str) -> Any:
    """A dotted path into parsed JSON; None where it leads nowhere."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _cut(text: str) -> str:
    return text if len(text) <= FIELD_VALUE_LIMIT else text[: FIELD_VALUE_LIMIT - 1] + "…"


class StepExecutor:
    def __init__(
        self,
        http: httpx.AsyncClient,
        values: Mapping[str, str | None],
        secrets: Iterable[str],
        hosts: set[str],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.http = http
        self.values = values
        self.secrets = [s for s in secrets if s]
        self.hosts = hosts
        self.timeout = timeout

    async def run(self, step: HttpStep | StatuspageStep, inputs: Mapping[str, object]) -> Outcome:
        if isinstance(step, StatuspageStep):
            return await self._statuspage(step)
        return await self._http(step, inputs)

    def _clean(self, text: str, extra: Iterable[str] = ()) -> str:
        return redact(text, [*self.secrets, *extra])

    async def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: Any,
    ) -> tuple[httpx.Response | None, str | None, int]:
        """(response, failure, elapsed ms). Follows redirects only within the same host."""
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            if _netloc(url) not in self.hosts:
                return None, f"not called: {_netloc(url)} is not a host the runbooks name", 0
            try:
                response = await self.http.request(
                    method,
                    url,
                    headers=dict(headers),
                    params=dict(query) or None,
                    json=body,
                    timeout=self.timeout,
                    follow_redirects=False,
                )
            except httpx.TimeoutException:
                return None, f"timed out after {self.timeout:g} s", _ms(started)
            except httpx.ConnectError:
                return None, f"could not connect to {_netloc(url)}", _ms(started)
            except httpx.HTTPError as exc:
                return None, f"request failed ({type(exc).__name__})", _ms(started)
            if not response.is_redirect:
                return response, None, _ms(started)
            target = urljoin(url, response.headers.get("location", ""))
            if _netloc(target) != _netloc(url):
                return None, f"redirected to {_netloc(target)}: not followed", _ms(started)
            if response.status_code in (301, 302, 303):
                method, body = "GET", None
            url, query = target, {}
        return None, f"more than {MAX_REDIRECTS} redirects", _ms(started)

    def may_call(self, url: str) -> bool:
        return _netloc(url) in self.hosts

    async def fetch_json(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int | None, Any, str | None]:
        """GET a URL under the same rules as a step (allowed hosts, timeout, same-host
        redirects): (HTTP status, parsed JSON or None, redacted failure or None)."""
        header_secrets = [v for v in (headers or {}).values() if len(v) >= 6]
        response, failure, _elapsed = await self._request("GET", url, headers or {}, {}, None)
        if response is None:
            return None, None, self._clean(str(failure), header_secrets)
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        return response.status_code, data, None

    async def _http(self, step: HttpStep, inputs: Mapping[str, object]) -> Outcome:
        try:
            url = substitute(step.url, self.values, inputs)
            headers = {k: substitute(v, self.values, inputs) for k, v in step.headers.items()}
            query = {k: substitute(v, self.values, inputs) for k, v in step.query.items()}
            body = substitute_obj(step.json_body, self.values, inputs)
        except MissingSetting as exc:
            return Outcome(False, f"not run: {exc.name} is not set")
        # Header values carry credentials (Cookie, Authorization, x-api-key): never shown.
        header_secrets = [v for v in headers.values() if len(v) >= 6]
        response, failure, elapsed = await self._request(step.method, url, headers, query, body)
        if response is None:
            return Outcome(False, self._clean(str(failure), header_secrets), None, elapsed or None)
        status = response.status_code
        expected = status in step.expect_status
        head = f"HTTP {status} in {elapsed} ms"
        if not expected:
            wanted = "/".join(str(s) for s in step.expect_status)
            head = f"HTTP {status} (expected {wanted}) in {elapsed} ms"
        if not step.show_fields:
            return Outcome(expected, head, status, elapsed)
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return Outcome(False, f"{head} · the body is not JSON", status, elapsed)
        # Redact each value before cutting it, so a secret split by the cut cannot show.
        fields = " · ".join(
            f"{path}={_cut(self._clean(_show(pick(data, path)), header_secrets))}"
            for path in step.show_fields
        )
        return Outcome(expected, self._clean(f"{head} · {fields}", header_secrets), status, elapsed)

    async def _statuspage(self, step: StatuspageStep) -> Outcome:
        try:
            url = substitute(step.url, self.values)
        except MissingSetting as exc:
            return Outcome(False, f"not run: {exc.name} is not set")
        response, failure, elapsed = await self._request("GET", url, {}, {}, None)
        if response is None:
            return Outcome(False, f"{step.service} status: {failure}", None, elapsed or None)
        try:
            status = response.json()["status"]
            indicator, description = str(status["indicator"]), str(status["description"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            return Outcome(
                False,
                f"{step.service} status: HTTP {response.status_code}, no status in the answer",
                response.status_code,
                elapsed,
            )
        mark = "" if indicator in GOOD_INDICATORS else ":warning: "
        return Outcome(
            True,
            f"{mark}{step.service}: {_cut(description)} (indicator: {_cut(indicator)})",
            response.status_code,
            elapsed,
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
