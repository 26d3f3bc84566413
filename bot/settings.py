"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
SLACK_DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_SERVICE_URL = "https://buildflow-ai.app"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_DEFAULT_API_URL
    database_url: str = "sqlite:///./incidents.db"
    # PostgreSQL connections each process keeps open (and as many again under load).
    database_pool_size: int = Field(default=5, ge=1, le=100)
    # A replica silent this long is presumed dead: its in-flight work is taken over.
    replica_timeout: Duration = timedelta(seconds=30)
    incidents_channel: str
    oncall_primary: str | None = None
    oncall_backup: str | None = None
    incident_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    service_url: str = DEFAULT_SERVICE_URL
    runbooks_dir: Path = Path("runbooks")
    templates_dir: Path | None = None
    product_name: str = "BuildFlow AI"
    status_page_url: str | None = None
    support_email: str = "support@buildflow-ai.app"
    # When the daily digest goes to #incidents (UTC, HH:MM).
    digest_at: time = time(9, 0)
    cron_secret: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    admin_session_cookie: SecretStr | None = None
    port: int = Field(default=3000, ge=1, le=65535)
    # Seconds a runbook action may take before it is reported as timed out.
    action_timeout: float = Field(default=10.0, gt=0, le=120)
    # Clocks (durations: 90s, 15m, 2h, 7d or plain seconds).
    escalate_after: Duration = timedelta(minutes=15)
    update_reminder_p1: Duration = timedelta(minutes=30)
    update_reminder_p2: Duration = timedelta(minutes=30)
    status_page_after: Duration = timedelta(minutes=15)
    postmortem_due: Duration = timedelta(hours=24)
    postmortem_reminder: Duration = timedelta(hours=20)
    archive_after: Duration = timedelta(days=7)
    business_hours: str = "09:00-17:00"
    business_days: str = "mon-fri"
    business_timezone: str = "UTC"
    clock_interval: float = Field(default=5.0, gt=0, le=300)
    # Seconds between two messages the bot posts to one channel (Slack: about one a second).
    slack_post_interval: float = Field(default=1.0, ge=0, le=60)
    log_level: str = "INFO"
    # Alerts (POST /hooks/alerts/<source>) and the health watch; see README "Alerts".
    alert_webhook_secret: SecretStr | None = None
    # Runbook ids and/or severities whose alerts are declared without a click.
    alert_auto_declare: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_dedup_window: Duration = timedelta(minutes=30)
    # Unset: no health watch. Otherwise how often ${SERVICE_URL}/api/health is read.
    health_watch_interval: Duration | None = None

    @field_validator("incident_approvers", "alert_auto_declare", mode="before")
    @classmethod
    def _comma_lists(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("alert_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it is all that guards the webhook)")
        return value

    @field_validator("health_watch_interval", mode="before")
    @classmethod
    def _watch_off(cls, value: object) -> object:
        return None if value in ("", "0", 0) else value

    @field_validator("health_watch_interval")
    @classmethod
    def _watch_interval(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(seconds=10):
            raise ValueError("must be at least 10s (or unset to turn the watch off)")
        return value

    @model_validator(mode="after")
    def _auto_declare_needs_commander(self) -> Settings:
        if self.alert_auto_declare and not self.oncall_primary:
            raise ValueError(
                "ALERT_AUTO_DECLARE needs ONCALL_PRIMARY: it commands the incidents it declares"
            )
        return self

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url", "service_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # AsyncWebClient joins with urljoin: without the slash the last path segment is lost.
        return value if value.endswith("/") else value + "/"

    @field_validator("service_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("incidents_channel", "oncall_primary", "oncall_backup")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.isalnum() or not value[0].isupper():
            raise ValueError("must be a Slack ID such as C0123ABCD or U0123ABCD, not a name")
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("replica_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        opening, closing = business_hours(value)
        if opening >= closing:
            raise ValueError("must be like 09:00-17:00, opening before closing")
        return value

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: str) -> str:
        business_days(value)
        return value

    @field_validator("business_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value

    @model_validator(mode="after")
    def _postmortem_order(self) -> Settings:
        if self.postmortem_reminder >= self.postmortem_due:
            raise ValueError("POSTMORTEM_REMINDER must be shorter than POSTMORTEM_DUE")
        return self

    @model_validator(mode="after")
    def _mode_needs(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "SLACK_SIGNING_SECRET is required in HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if self.incidents_channel is None:
            raise ValueError("INCIDENTS_CHANNEL is required")
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def secret_values(self) -> list[str]:
        """Every secret value, so logs and stored text can be scrubbed of them."""
        secrets = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.cron_secret,
            self.anthropic_api_key,
            self.admin_session_cookie,
            self.alert_webhook_secret,
        ]
        values = [s.get_secret_value() for s in secrets if s is not None]
        # The cookie's value alone (after `name=`) is the real secret part.
        if self.admin_session_cookie is not None:
            cookie = self.admin_session_cookie.get_secret_value()
            values += [part.split("=", 1)[1] for part in cookie.split(";") if "=" in part]
        return [v for v in values if v]

    def substitution_values(self) -> dict[str, str | None]:
        """Values runbook steps may name as ${NAME}: settings first, then the environment."""
        values: dict[str, str | None] = dict(os.environ)
        values.update(
            SERVICE_URL=self.service_url,
            CRON_SECRET=_reveal(self.cron_secret),
            ANTHROPIC_API_KEY=_reveal(self.anthropic_api_key),
            ADMIN_SESSION_COOKIE=_reveal(self.admin_session_cookie),
        )
        return values


_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def business_hours(value: str) -> tuple[time, time]:
    try:
        opening, closing = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError("must be like 09:00-17:00") from None
    return opening, closing


def business_days(value: str) -> set[int]:
    """'mon-fri' or 'mon,tue,thu' as weekday numbers (Monday is 0)."""
    days: set[int] = set()
    for part in value.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError("must be like mon-fri or mon,tue,wed")
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        if end < start:
            raise ValueError("must be like mon-fri or mon,tue,wed")
        days.update(range(start, end + 1))
    return days


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required but not set"
        parts.append(f"{name} {message}" if name else message)
    return "invalid settings: " + "; ".join(parts)
