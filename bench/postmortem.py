"""Rendering the postmortem of an incident with a long timeline, through the bot's own
services: `IncidentService.rerender_postmortem`, the path `/incident postmortem` takes (the
timeline query, Documents.postmortem, storing the text and queueing its upload).

Runs in this process (tracemalloc sees only its own process) on a fresh database whose rows
are inserted with plain SQL, after the load phases so nothing else competes for the CPU."""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bench.targets import BOT_TOKEN, INCIDENTS, SIGNING_SECRET
from bot.services import open_services
from bot.settings import load_settings
from handlers.collector import automatic_full_pass_off
from storage import queries
from storage.db import Database
from storage.models import Incident, TimelineEvent

INCIDENT_ID = 1
BATCH = 5_000
INDEX = "ix_timeline_incident_at"
DELETED_EVERY = 997  # a few deleted messages, which the document leaves out


@dataclass
class PostmortemResult:
    rows: int
    seconds: float  # median of the timed runs of rerender_postmortem
    runs: int
    query_seconds: float  # of which: loading the timeline
    render_seconds: float  # of which: Documents.postmortem
    peak_bytes: int  # tracemalloc peak during one rerender_postmortem
    markdown_bytes: int
    visible_rows: int  # rows not flagged deleted: what the document's table must list
    timeline_rows_in_document: int
    query_plan: str
    uses_index: bool
    profile: str | None = None  # pyinstrument's text tree of one run, with --profile


@contextlib.contextmanager
def bots_collector() -> Iterator[None]:
    """The garbage collector as the bot's process runs it (handlers/server.py freezes what
    start-up built; handlers/collector.py turns the automatic full pass off): without this the
    timing would include full collections of this process's heap, the load generator's
    samples and all, which the bot never has."""
    gc.collect()
    gc.freeze()
    try:
        with automatic_full_pass_off():
            yield
    finally:
        gc.unfreeze()


def _rows(count: int, start: datetime) -> list[dict[str, Any]]:
    """A long incident's timeline: mostly people talking, some status changes, some 📌."""
    kinds = ("message",) * 8 + ("note", "status")
    statuses = ("identified", "monitoring")
    rows = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        data = json.dumps({"to": statuses[i // 10 % 2]}) if kind == "status" else None
        rows.append(
            {
                "incident_id": INCIDENT_ID,
                "at": start + timedelta(seconds=i * 36_000 / max(count, 1)),
                "actor": f"UUSER{i % 40}",
                "kind": kind,
                "text": (
                    f"<@UBOB{i % 7}> *pool* at {i % 100}% on db-{i % 3}, see "
                    f"<https://grafana.example/d/{i}|dashboard {i}> | retry {i}"
                ),
                "slack_channel": "CBENCHPM" if kind == "message" else None,
                "slack_ts": f"{1_700_000_000 + i}.000100" if kind == "message" else None,
                "key": i % 500 == 0,
                "deleted": i % DELETED_EVERY == 0,
                "data": data,
                "history": None,
            }
        )
    return rows


async def _fill(db: Database, rows: int) -> None:
    declared = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    async with db.transaction() as session:
        session.add(
            Incident(
                id=INCIDENT_ID,
                title="Checkout down: database pool exhausted",
                severity="P1",
                status="resolved",
                commander_id="UALICE1",
                declared_by="UALICE1",
                channel_id="CBENCHPM",
                channel_name="inc-20260314-1-checkout-down",
                declared_at=declared,
                resolved_at=declared + timedelta(hours=10),
                root_cause="Deploy 4512 exhausted the DB pool",
                went_well="Paging worked\nRollback was quick",
                to_improve="Alert on pool saturation",
                action_items="Add pool alert\nLoad test deploys",
            )
        )
    # Plain SQL inserts (SQLAlchemy Core, executemany), in batches: fast and not the ORM.
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    all_rows = _rows(rows, declared)
    async with db.engine.begin() as conn:
        for i in range(0, len(all_rows), BATCH):
            await conn.execute(insert(table), all_rows[i : i + BATCH])


def _table_rows(markdown: str) -> int:
    table = markdown.split("### Full timeline", 1)[-1]
    return sum(1 for line in table.splitlines() if line.startswith("| ")) - 2  # head, rule


def _workdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _plan(db_path: Path, sql: str, params: Any) -> str:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "; ".join(str(row[-1]) for row in rows)


async def measure(
    rows: int, slack_api_url: str, workdir: Path, runs: int, *, profile: bool = False
) -> PostmortemResult:
    db_path = _workdir(workdir) / "postmortem.db"
    settings = load_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        database_url=f"sqlite:///{db_path}",
        incidents_channel=INCIDENTS,
    )
    services = await open_services(settings)  # also runs the migrations
    # Only the render is measured: no outbox delivery or clock pass running alongside it.
    await services.outbox.stop()
    await services.scheduler.stop()
    try:
        await _fill(services.db, rows)
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
            if "FROM timeline_event" in sql:
                statements.append((sql, params))

        engine = services.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", capture)
        times = []
        with bots_collector():
            for _ in range(runs):
                gc.collect()
                started = time.perf_counter()
                incident = await services.incidents.rerender_postmortem(INCIDENT_ID, "UBENCH")
                times.append(time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", capture)

        # The same two steps separately, to say where the time goes.
        with bots_collector():
            gc.collect()
            started = time.perf_counter()
            async with services.db.session() as session:
                events = await queries.document_timeline(session, INCIDENT_ID)
                step_runs = await queries.runs_for_incident(session, INCIDENT_ID)
            loaded = time.perf_counter()
            markdown = services.documents.postmortem(incident, events, step_runs)
            rendered = time.perf_counter()
            del events

        # Memory in a separate run: tracemalloc slows allocation down, so never timed with it.
        gc.collect()
        tracemalloc.start()
        try:
            await services.incidents.rerender_postmortem(INCIDENT_ID, "UBENCH")
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        profile_text = None
        if profile:
            from pyinstrument import Profiler

            from bench.profiling import pyinstrument_text

            profiler = Profiler(async_mode="enabled")
            with profiler:
                await services.incidents.rerender_postmortem(INCIDENT_ID, "UBENCH")
            profile_text = pyinstrument_text(profiler, "rerender_postmortem")

        sql, params = statements[0]
        plan = _plan(db_path, sql, params)
        return PostmortemResult(
            rows=rows,
            seconds=statistics.median(times),
            runs=runs,
            query_seconds=loaded - started,
            render_seconds=rendered - loaded,
            peak_bytes=peak,
            markdown_bytes=len(markdown.encode()),
            visible_rows=rows - len(range(0, rows, DELETED_EVERY)),
            timeline_rows_in_document=_table_rows(markdown),
            query_plan=plan,
            uses_index=INDEX in plan and "TEMP B-TREE" not in plan,
            profile=profile_text,
        )
    finally:
        await services.close()
