"""Reading the bot's database in assertions: the database is the truth."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from storage.models import Incident, OutboxMessage, TimelineEvent


async def incidents(bot: Any) -> list[Incident]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Incident).order_by(col(Incident.id)))).all())


async def incident(bot: Any, number: int) -> Incident:
    async with bot.services.db.session() as session:
        found = await session.get(Incident, number)
    assert found is not None, f"INC-{number} is not in the database"
    return found


async def events(bot: Any, number: int, kind: str | None = None) -> list[TimelineEvent]:
    async with bot.services.db.session() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.incident_id == number)
        if kind:
            stmt = stmt.where(TimelineEvent.kind == kind)
        return list((await session.exec(stmt.order_by(col(TimelineEvent.id)))).all())


async def outbox(bot: Any) -> list[OutboxMessage]:
    async with bot.services.db.session() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


async def drained(bot: Any, timeout: float = 10.0) -> None:
    """Wait until the outbox has delivered (or given up on) everything queued."""

    async def settled() -> bool:
        rows = await outbox(bot)
        return all(r.state in ("done", "failed") for r in rows)

    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await settled():
        if loop.time() > deadline:
            rows = [(r.id, r.op, r.state, r.last_error) for r in await outbox(bot)]
            raise AssertionError(f"outbox not drained: {rows}")
        await asyncio.sleep(0.02)


async def until(check: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll an async function until it returns something truthy (events are handled after
    Slack's request has been acknowledged, so their effects land a moment later)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {result!r}")
        await asyncio.sleep(0.02)


async def scheduler_pass(bot: Any, passes: int = 2) -> None:
    """Wait until the clock scheduler has looked at least once after time was moved."""
    scheduler = bot.services.scheduler
    target = scheduler.passes + passes
    await until(lambda: _passed(scheduler, target), what="a scheduler pass")
    await until(lambda: _jobs_idle(scheduler), what="the scheduler's periodic jobs")
    await drained(bot)


async def _jobs_idle(scheduler: Any) -> bool:
    return not scheduler.jobs_busy


async def _passed(scheduler: Any, target: int) -> bool:
    return scheduler.passes >= target


async def clocks(bot: Any, number: int) -> list[Any]:
    from storage.models import Clock

    async with bot.services.db.session() as session:
        stmt = select(Clock).where(Clock.incident_id == number).order_by(col(Clock.id))
        return list((await session.exec(stmt)).all())


async def outbox_pass(bot: Any, passes: int = 2) -> None:
    """Wait until the outbox worker has looked at least once after time was moved."""
    worker = bot.services.outbox
    target = worker.passes + passes
    await until(lambda: _passed(worker, target), what="an outbox pass")
