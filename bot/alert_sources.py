"""What monitoring sends, turned into one shape (a Signal) by documented rules.

Sources: `generic` (our own JSON shape), `sentry` (Sentry's issue-alert webhook, resource
`event_alert`) and `uptimerobot` (an UptimeRobot webhook alert contact). Each maps to a runbook
and a suggested severity through RULES, the table the README shows. A payload that does not fit
raises AlertPayloadError with one line saying why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.runbooks import RunbookSet
from bot.severity import Severity
from bot.text import one_line, truncate

MAX_TITLE = 150
MAX_DETAILS = 1500
# With the details, still inside the 3000 characters of the card's section.
MAX_LINK = 1000


class AlertPayloadError(Exception):
    """The body is not an alert this source sends; the message is one line."""


@dataclass(frozen=True)
class Rule:
    runbook_id: str | None
    severity: Severity
    what: str


# The mapping rules (README "Alerts and the health watch"): a kind of signal → runbook and
# suggested severity, after RUNBOOK.md's "Monitoring & Alerting" table.
RULES: dict[str, Rule] = {
    "health_unhealthy": Rule("site-down", Severity.P1, "health check unhealthy"),
    "site_down": Rule("site-down", Severity.P1, "site down (uptime check)"),
    "error_spike": Rule("high-error-rate", Severity.P2, "error-rate spike"),
    "disk_warning": Rule("database-disk", Severity.P3, "database disk warning (80%)"),
    "disk_critical": Rule("database-disk", Severity.P1, "database disk critical (100%)"),
    "rate_limit": Rule(None, Severity.P3, "rate limits alerting (> 80% blocked)"),
    "slow_queries": Rule("database-connections", Severity.P3, "slow queries"),
    "backup_gap": Rule(None, Severity.P3, "database backup gap (> 25 h)"),
    "ssl_expiry": Rule(None, Severity.P3, "TLS certificate expiring"),
}

# Severity words monitoring tools use, for the generic shape's hint.
_SEVERITY_WORDS = {
    "critical": Severity.P1,
    "fatal": Severity.P1,
    "high": Severity.P2,
    "error": Severity.P2,
    "major": Severity.P2,
    "medium": Severity.P3,
    "warning": Severity.P3,
    "minor": Severity.P3,
    "low": Severity.P4,
    "info": Severity.P4,
}


@dataclass(frozen=True)
class Signal:
    source: str
    dedup_key: str
    title: str
    severity: Severity
    runbook_id: str | None
    service: str | None = None
    link: str | None = None
    details: str | None = None
    # The monitored thing is fine again (UptimeRobot "up", a generic "resolved").
    recovered: bool = False


def from_rule(
    source: str,
    kind: str,
    title: str,
    *,
    dedup_key: str,
    service: str | None = None,
    link: str | None = None,
    details: str | None = None,
    severity: Severity | None = None,
) -> Signal:
    rule = RULES[kind]
    return Signal(
        source=source,
        dedup_key=dedup_key,
        title=truncate(one_line(title), MAX_TITLE) or rule.what,
        severity=severity or rule.severity,
        runbook_id=rule.runbook_id,
        service=service,
        link=link,
        details=truncate(details, MAX_DETAILS) if details else None,
    )


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def _http_link(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://")) or any(c in value for c in " <>|"):
        raise ValueError("must be an http(s) URL without spaces, <, > or |")
    return value


class GenericAlert(_Payload):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    kind: str | None = None
    severity: str | None = None
    service: str | None = Field(default=None, max_length=100)
    dedup_key: str | None = Field(default=None, max_length=200)
    link: str | None = Field(default=None, max_length=MAX_LINK)
    details: str | None = Field(default=None, max_length=MAX_DETAILS)
    runbook: str | None = None
    status: str = "firing"

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in RULES:
            raise ValueError(f"must be one of {', '.join(RULES)}")
        return value

    @field_validator("severity")
    @classmethod
    def _severity_hint(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if Severity.parse(value) is None and value.lower() not in _SEVERITY_WORDS:
            raise ValueError(f"must be P1-P4 or one of {', '.join(_SEVERITY_WORDS)}")
        return value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value.lower() not in ("firing", "resolved"):
            raise ValueError("must be firing or resolved")
        return value.lower()

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return _http_link(value)


class SentryEvent(_Payload):
    title: str | None = None
    message: str | None = None
    level: str | None = None
    culprit: str | None = None
    issue_id: str | int
    web_url: str | None = None
    project: str | int | None = None


class SentryData(_Payload):
    event: SentryEvent
    triggered_rule: str | None = None


class SentryIssueAlert(_Payload):
    action: str
    data: SentryData


class UptimeRobotAlert(_Payload):
    monitor_id: str | int = Field(alias="monitorID")
    monitor_url: str | None = Field(default=None, alias="monitorURL")
    monitor_name: str | None = Field(default=None, alias="monitorFriendlyName")
    alert_type: int = Field(alias="alertType")
    alert_type_name: str | None = Field(default=None, alias="alertTypeFriendlyName")
    alert_details: str | None = Field(default=None, alias="alertDetails")
    alert_duration: str | int | None = Field(default=None, alias="alertDuration")
    alert_datetime: str | int | None = Field(default=None, alias="alertDateTime")


SOURCES = ("generic", "sentry", "uptimerobot")


def parse(source: str, body: bytes, content_type: str, runbooks: RunbookSet) -> Signal:
    """The signal in a webhook body from `source` (one of SOURCES)."""
    data = _decode(body, content_type, form_ok=source == "uptimerobot")
    try:
        if source == "generic":
            return _generic(GenericAlert.model_validate(data), runbooks)
        if source == "sentry":
            return _sentry(SentryIssueAlert.model_validate(data))
        if source == "uptimerobot":
            return _uptimerobot(UptimeRobotAlert.model_validate(data))
    except ValidationError as exc:
        raise AlertPayloadError(_one_line(exc)) from None
    raise AlertPayloadError(f"unknown source {source!r}")


def _decode(body: bytes, content_type: str, *, form_ok: bool) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AlertPayloadError("the body is not UTF-8") from None
    if form_ok and content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AlertPayloadError(f"the body is not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict):
        raise AlertPayloadError("the body must be a JSON object")
    return data


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}"


def _generic(alert: GenericAlert, runbooks: RunbookSet) -> Signal:
    rule = RULES[alert.kind] if alert.kind else None
    runbook_id = alert.runbook or (rule.runbook_id if rule else None)
    if alert.runbook and alert.runbook not in runbooks:
        raise AlertPayloadError(
            f"runbook: there is no runbook {alert.runbook!r} "
            f"(runbooks: {', '.join(runbooks.ids())})"
        )
    if runbook_id is None and rule is None:
        suggested = runbooks.suggest(alert.title)
        runbook_id = suggested.id if suggested else None
    severity = None
    if alert.severity:
        severity = Severity.parse(alert.severity) or _SEVERITY_WORDS[alert.severity.lower()]
    if severity is None:
        runbook = runbooks.get(runbook_id or "")
        severity = rule.severity if rule else (runbook.default_severity if runbook else None)
    return Signal(
        source="generic",
        dedup_key=alert.dedup_key or f"generic:{alert.kind or one_line(alert.title).lower()}",
        title=one_line(alert.title),
        severity=Severity(severity or Severity.P3),
        runbook_id=runbook_id,
        service=alert.service or None,
        link=alert.link,
        details=alert.details or None,
        recovered=alert.status == "resolved",
    )


def _sentry(alert: SentryIssueAlert) -> Signal:
    if alert.action != "triggered":
        raise AlertPayloadError(
            f"action: only issue alerts (action 'triggered') are taken, not {alert.action!r}"
        )
    event = alert.data.event
    what = event.title or event.message or "an issue"
    rule = f"{alert.data.triggered_rule}: " if alert.data.triggered_rule else ""
    details = " · ".join(
        part
        for part in (
            f"level {event.level}" if event.level else "",
            f"culprit {event.culprit}" if event.culprit else "",
        )
        if part
    )
    return from_rule(
        "sentry",
        "error_spike",
        f"Sentry: {rule}{what}",
        dedup_key=f"sentry:{event.issue_id}",
        service=str(event.project) if isinstance(event.project, str) else None,
        link=_safe_link(event.web_url),
        details=details or None,
    )


def _uptimerobot(alert: UptimeRobotAlert) -> Signal:
    name = alert.monitor_name or alert.monitor_url or f"monitor {alert.monitor_id}"
    key = f"uptimerobot:{alert.monitor_id}"
    details = alert.alert_details or None
    if alert.alert_type == 2:  # up again
        return Signal("uptimerobot", key, f"{name} is up", Severity.P4, None, recovered=True)
    if alert.alert_type == 3:
        return from_rule(
            "uptimerobot",
            "ssl_expiry",
            f"UptimeRobot: {name}: certificate expiring",
            dedup_key=f"{key}:ssl",
            link=_safe_link(alert.monitor_url),
            details=details,
        )
    if alert.alert_type != 1:
        raise AlertPayloadError(f"alertType: {alert.alert_type} is not 1 (down), 2 (up) or 3 (SSL)")
    return from_rule(
        "uptimerobot",
        "site_down",
        f"UptimeRobot: {name} is down",
        dedup_key=key,
        link=_safe_link(alert.monitor_url),
        details=details,
    )


def _safe_link(value: str | None) -> str | None:
    # A link we cannot show safely (or whole) is left out, not a reason to drop the alert.
    if value is not None and len(value) > MAX_LINK:
        return None
    try:
        return _http_link(value)
    except ValueError:
        return None
