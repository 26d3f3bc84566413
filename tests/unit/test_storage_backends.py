"""The storage layer on both databases (SQLite and PostgreSQL): migrations, the constraints
the bot relies on, and the claims that make work happen once across replicas."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents import document_events
from bot.outbox import OutboxWorker
from storage import coordination, queries
from storage.db import SCHEMA_HEAD, Database, alembic_config
from storage.models import (
    Clock,
    Incident,
    OutboxMessage,
    ProcessedEvent,
    Replica,
    StepRun,
    TimelineEvent,
)
from tests.conftest import BOTH_DATABASES
from tests.support.clock import FakeClock

pytestmark = BOTH_DATABASES
NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest.fixture
async def other(database_url, db):
    """A second engine on the same database: what another replica would hold."""
    database = Database(database_url)
    yield database
    await database.close()


async def test_a_database_at_the_head_is_opened_without_loading_alembic(db, database_url):
    """A restart (the schema already current) does not import Alembic, Mako and Pygments;
    a database one migration behind is upgraded as before."""
    assert SCHEMA_HEAD == HEAD  # what start-up compares the database's revision with
    check = (
        "import asyncio, sys\n"
        "from storage.db import Database\n"
        "async def main():\n"
        f"    db = Database({database_url!r})\n"
        "    await db.upgrade()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    run = functools.partial(
        subprocess.run,
        [sys.executable, "-c", check],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert (await asyncio.to_thread(run)).stdout.strip() == "False"

    def one_down(connection):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")

    async with db.engine.begin() as conn:
        await conn.run_sync(one_down)
    assert (await asyncio.to_thread(run)).stdout.strip() == "True"
    async with db.session() as session:
        version = (await session.exec(text("SELECT version_num FROM alembic_version"))).one()  # type: ignore[call-overload]
    assert version[0] == HEAD


def _incident(number: int) -> Incident:
    return Incident(
        id=number,
        title=f"Incident {number}",
        severity="P2",
        commander_id="U1",
        declared_by="U1",
        declared_at=NOW,
    )


async def test_migrations_build_exactly_the_models_schema_and_go_down_again(db):
    def check(connection):
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == HEAD
        assert compare_metadata(context, SQLModel.metadata) == []

    async with db.engine.connect() as conn:
        await conn.run_sync(check)

    def down_and_up(connection):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        command.upgrade(config, "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(down_and_up)
    async with db.engine.connect() as conn:
        await conn.run_sync(check)


async def test_the_counter_continues_from_incidents_declared_before_the_upgrade(database_url):
    def upgrade_to(connection, revision):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    database = Database(database_url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0004")
        async with database.transaction() as session:
            session.add(_incident(41))
        await database.upgrade()
        async with database.transaction() as session:
            assert await coordination.next_number(session, "incident") == 42
    finally:
        await database.close()


async def test_a_rolled_back_number_is_handed_out_again(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            assert await coordination.next_number(session, "incident") == 1
            raise RuntimeError("the declare failed")
    async with db.transaction() as session:
        assert await coordination.next_number(session, "incident") == 1


async def test_concurrent_numbers_from_two_engines_are_unique_and_gap_free(db, other):
    async def take(database: Database) -> int:
        async with database.transaction() as session:
            number = await coordination.next_number(session, "incident")
            session.add(_incident(number))
            await asyncio.sleep(0)  # let the other transactions run into the counter
        return number

    numbers = await asyncio.gather(*(take(db if i % 2 else other) for i in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_one_live_run_per_step_is_enforced_by_the_database(db):
    async with db.transaction() as session:
        session.add(_incident(1))

    def run(state: str) -> StepRun:
        return StepRun(
            incident_id=1,
            runbook_id="site-down",
            step_id="health",
            kind="http",
            state=state,
            requested_by="U1",
            requested_at=NOW,
        )

    async with db.transaction() as session:
        session.add(run("running"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(run("awaiting_approval"))
    async with db.transaction() as session:
        session.add(run("succeeded"))  # finished runs do not count


async def test_an_event_id_is_stored_once_whichever_engine_sees_it(db, other):
    async with db.transaction() as session:
        session.add(ProcessedEvent(event_id="Ev1", received_at=NOW))
    with pytest.raises(IntegrityError):
        async with other.transaction() as session:
            session.add(ProcessedEvent(event_id="Ev1", received_at=NOW))


async def test_claims_from_two_engines_never_take_the_same_row(db, other):
    async with db.transaction() as session:
        session.add(_incident(1))
        await session.flush()
        for minute in range(30):
            session.add(
                Clock(
                    incident_id=1,
                    kind="update",
                    due_at=NOW,
                    created_at=NOW + timedelta(minutes=minute),
                )
            )

    async def claim_all(database: Database) -> list[int]:
        taken = []
        while True:
            async with database.transaction() as session:
                clock_id = await coordination.claim(
                    session,
                    Clock.id,
                    col(Clock.state) == "pending",
                    values={"state": "fired", "fired_at": NOW},
                    order_by=(col(Clock.id),),
                )
                await asyncio.sleep(0)  # hold the claim while the other engine tries
            if clock_id is None:
                return taken
            taken.append(clock_id)

    first, second = await asyncio.gather(claim_all(db), claim_all(other))
    assert sorted(first + second) == list(range(1, 31))
    assert not set(first) & set(second)


async def test_a_sending_write_is_taken_over_only_from_a_dead_replica(db):
    clock = FakeClock(NOW)
    async with db.transaction() as session:
        session.add(Replica(id="alive", started_at=NOW, seen_at=NOW - timedelta(seconds=5)))
        session.add(Replica(id="dead", started_at=NOW, seen_at=NOW - timedelta(minutes=5)))
        for owner in ("alive", "dead", None):
            session.add(
                OutboxMessage(
                    lane=f"lane-{owner}",
                    op="post",
                    payload="{}",
                    state="sending",
                    owner=owner,
                    not_before=NOW,
                    created_at=NOW,
                )
            )
    worker = OutboxWorker(db, clock, {}, owner="me")
    assert await worker.reclaim(NOW - timedelta(seconds=30)) == 2
    async with db.session() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    assert [(r.lane, r.state) for r in rows] == [
        ("lane-alive", "sending"),
        ("lane-dead", "pending"),
        ("lane-None", "pending"),
    ]


async def test_timestamps_come_back_as_utc_on_both_databases(db):
    async with db.transaction() as session:
        session.add(_incident(1))
    async with db.session() as session:
        found = await session.get(Incident, 1)
        raw = (await session.exec(text("SELECT declared_at FROM incident"))).scalar_one()  # type: ignore[call-overload]
    assert found.declared_at == NOW and found.declared_at.tzinfo is UTC
    assert str(raw).startswith("2026-03-14 09:30:00")


async def test_a_documents_timeline_reads_as_the_orm_events_would(db):
    """document_timeline formats the time of day in SQL (strftime / to_char): the same rows,
    order and "HH:MM" (UTC, midnight and one second before a minute included) as built in
    Python from the ORM objects, deleted events left out."""
    async with db.transaction() as session:
        session.add(_incident(1))
        session.add(_incident(2))
        await session.flush()
        times = [
            NOW.replace(hour=23, minute=59, second=59, microsecond=999_999),
            NOW.replace(hour=0, minute=0),
            NOW.replace(hour=9, minute=5, second=30),
            NOW.replace(hour=9, minute=5, second=30),  # same instant: the id decides
            NOW.replace(hour=17, minute=45),
        ]
        for i, at in enumerate(times):
            session.add(
                TimelineEvent(
                    incident_id=1,
                    at=at,
                    actor="bot" if i == 2 else f"U{i}",
                    kind="status" if i == 1 else "message",
                    text=f"event {i}",
                    key=i == 3,
                    deleted=i == 4,
                    data='{"to": "identified"}' if i == 1 else None,
                )
            )
        session.add(TimelineEvent(incident_id=2, at=NOW, actor="U9", kind="note", text="other"))
    async with db.session() as session:
        rows = await queries.document_timeline(session, 1)
        orm = await queries.timeline(session, 1)
    # By name, as the documents read them, and by position, as the timeline table does.
    got = [(r.time, r.actor, r.kind, r.text, r.key, r.data) for r in rows]
    assert got == [tuple(row) for row in rows]
    assert got == [tuple(event) for event in document_events(orm)]
    assert [(row[0], row[3]) for row in got] == [
        ("00:00", "event 1"),
        ("09:05", "event 2"),
        ("09:05", "event 3"),
        ("23:59", "event 0"),
    ]
    assert got[0][5] == '{"to": "identified"}' and got[2][4] is True


class _FailsWhenAsked(Database):
    """The database failing for one transaction, when the test says so."""

    fail_next = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self.fail_next:
            self.fail_next = False
            raise OperationalError("UPDATE outbox", {}, ConnectionError("connection lost"))
        async with super().transaction() as session:
            yield session


def _pending(lane: str) -> OutboxMessage:
    return OutboxMessage(
        lane=lane, op=lane, payload="{}", state="pending", not_before=NOW, created_at=NOW
    )


async def test_a_write_this_replica_left_sending_is_queued_again_but_not_one_in_flight(
    database_url, db
):
    """The database fails right after the Slack call: the write stays 'sending' under this
    live replica's id, which nobody else takes over, so this replica queues it again (or its
    lane would wait for a restart). A write it is sending right now is left alone."""
    flaky = _FailsWhenAsked(database_url)
    clock = FakeClock(NOW)
    entered, release = asyncio.Event(), asyncio.Event()

    async def sent_then_database_fails(job: object) -> None:
        flaky.fail_next = True

    async def slow_send(job: object) -> None:
        entered.set()
        await release.wait()

    executors = {"left": sent_then_database_fails, "busy": slow_send}
    worker = OutboxWorker(flaky, clock, executors, owner="me")
    try:
        async with flaky.transaction() as session:
            session.add(Replica(id="me", started_at=NOW, seen_at=NOW))
            session.add(_pending("left"))
        with pytest.raises(OperationalError):
            await worker.run_once()
        async with flaky.transaction() as session:
            session.add(_pending("busy"))
        delivering = asyncio.create_task(worker.run_once())
        await asyncio.wait_for(entered.wait(), 5)
        try:
            assert await worker.reclaim(NOW - timedelta(seconds=30)) == 1
        finally:
            release.set()
            await delivering
        async with flaky.session() as session:
            rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        assert [(r.lane, r.state, r.owner) for r in rows] == [
            ("left", "pending", None),
            ("busy", "done", "me"),
        ]
    finally:
        await flaky.close()
