"""`python -m bot export`: incidents and their timelines as CSV or JSON, for use elsewhere.

Secrets (every secret setting's value) are redacted from all text. Private incidents keep
only what #incidents already shows of them (number, severity, status, times, commander)
unless `include_private` is asked for."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from bot.runbooks.substitute import redact
from storage import queries
from storage.db import Database
from storage.models import Incident, TimelineEvent

FORMATS = ("csv", "json")
PRIVATE_TITLE = "private incident"
_TEXT_FIELDS = (
    "description",
    "root_cause",
    "impact_users",
    "impact_revenue",
    "went_well",
    "to_improve",
    "action_items",
    "last_update",
)
_TIMES = ("declared_at", "acknowledged_at", "resolved_at", "postmortem_done_at")
CSV_COLUMNS = (
    "incident",
    "title",
    "severity",
    "status",
    "private",
    "commander",
    "runbook",
    *_TIMES,
    "root_cause",
    "event_at",
    "event_actor",
    "event_kind",
    "event_text",
)


class ExportError(Exception):
    """Bad arguments; the message is one line."""


def parse_since(value: str | None) -> datetime:
    if not value:
        raise ExportError("--since is required, e.g. --since 2026-01-01")
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(
            f"--since must be a date like 2026-01-01 (or an ISO time), not {value!r}"
        ) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise ExportError(f"--format must be csv or json, not {value!r}")
    return value


def check_output(path: Path | None) -> None:
    """Before reading anything: a file that cannot be written is a one-line error."""
    if path is None:
        return
    if path.is_dir():
        raise ExportError(f"--output {path} is a directory; name a file in it")
    if not path.parent.is_dir():
        raise ExportError(f"--output: there is no folder {path.parent} to write {path.name} in")


def check_database(url: str) -> None:
    """A SQLite file that is not there is a typo, not an empty export (nor a new file)."""
    parsed = make_url(url)
    path = parsed.database
    local = parsed.drivername.startswith("sqlite") and path and path != ":memory:"
    if local and not Path(path).exists():  # type: ignore[arg-type]
        raise ExportError(f"DATABASE_URL: there is no database at {path}")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def incident_record(
    incident: Incident,
    events: Sequence[TimelineEvent],
    *,
    include_private: bool,
    secrets: Iterable[str],
) -> dict[str, Any]:
    hidden = incident.private and not include_private
    secrets = list(secrets)

    def clean(text: str | None) -> str | None:
        return None if text is None or hidden else redact(text, secrets)

    record: dict[str, Any] = {
        "incident": f"INC-{incident.id}",
        "title": PRIVATE_TITLE if hidden else redact(incident.title, secrets),
        "severity": incident.severity,
        "status": incident.status,
        "private": incident.private,
        "commander": incident.commander_id,
        "declared_by": None if hidden else incident.declared_by,
        "runbook": None if hidden else incident.runbook_id,
        **{name: _time(getattr(incident, name)) for name in _TIMES},
        **{name: clean(getattr(incident, name)) for name in _TEXT_FIELDS},
    }
    record["timeline"] = (
        []
        if hidden
        else [
            {
                "at": _time(e.at),
                "actor": e.actor,
                "kind": e.kind,
                "text": redact(e.text, secrets),
                "key": bool(e.key),
                "deleted": bool(e.deleted),
            }
            for e in events
        ]
    )
    return record


async def collect(
    db: Database, since: datetime, *, include_private: bool, secrets: Iterable[str]
) -> list[dict[str, Any]]:
    secrets = list(secrets)
    records = []
    async with db.session() as session:
        for incident in await queries.declared_between(session, since):
            hidden = incident.private and not include_private
            events = [] if hidden else await queries.timeline(session, incident.id)  # type: ignore[arg-type]
            records.append(
                incident_record(incident, events, include_private=include_private, secrets=secrets)
            )
    return records


def write(records: Sequence[dict[str, Any]], fmt: str, out: IO[str], since: datetime) -> None:
    if fmt == "json":
        json.dump(
            {"since": since.isoformat(), "incidents": list(records)},
            out,
            indent=2,
            ensure_ascii=False,
        )
        out.write("\n")
        return
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        # One row per timeline event; an incident without any (hidden) still has its row.
        for event in record["timeline"] or [None]:
            row = dict(record)
            if event is not None:
                row.update(
                    event_at=event["at"],
                    event_actor=event["actor"],
                    event_kind=event["kind"],
                    event_text=event["text"],
                )
            writer.writerow(row)
