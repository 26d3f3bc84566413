"""How replicas sharing one database split work so that each piece is done once.

A claim is one UPDATE that moves a row out of the state the others look for. On PostgreSQL
the row is picked with `FOR UPDATE SKIP LOCKED`, so a replica passes over a row another one
is claiming instead of queueing behind it; SQLite has one writer at a time, so the guarded
UPDATE alone is the compare-and-set. Either way, of two claimants exactly one gets the row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Counter, Incident, Replica


async def claim(
    session: AsyncSession,
    key: Any,
    *where: ColumnElement[bool] | bool,
    values: Mapping[str, object],
    order_by: Iterable[Any] = (),
) -> Any | None:
    """Move the first row matching `where` (by `order_by`) to `values`; its key, or None when
    no row is free. Commit the session to make the claim visible, roll back to give it up."""
    table = key.class_
    pick = select(key).where(*where).order_by(*order_by).limit(1).with_for_update(skip_locked=True)
    stmt = (
        update(table)
        .where(col(key) == pick.scalar_subquery(), *where)
        .values(**values)
        .returning(key)
    )
    return (await session.exec(stmt)).scalar_one_or_none()  # type: ignore[call-overload]


async def lock_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    """The incident, locked for this transaction, or None if another transaction holds it
    (PostgreSQL). Background work takes it this way so it never waits in a lock cycle with a
    request that locked the incident first; it simply tries again on its next pass."""
    stmt = select(Incident).where(Incident.id == incident_id).with_for_update(skip_locked=True)
    return (await session.exec(stmt)).first()


async def next_number(session: AsyncSession, name: str) -> int:
    """The next number of a gap-free series, taken inside the caller's transaction: the
    counter row stays locked until it commits, and a rollback returns the number."""
    stmt = (
        update(Counter)
        .where(col(Counter.name) == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    return (await session.exec(stmt)).scalar_one()  # type: ignore[call-overload]


async def serialize(session: AsyncSession, name: str) -> None:
    """Make transactions that say the same `name` run one after another across replicas: the
    first write of the transaction touches that name's counter row, which holds PostgreSQL's
    row lock (and SQLite's write lock) until commit. For read-then-write work that has no row
    to claim yet, such as de-duplicating an alert nobody has stored."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Counter).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
    await session.exec(stmt)  # type: ignore[call-overload]


async def heartbeat(session: AsyncSession, replica_id: str, now: datetime) -> None:
    """Say this replica is alive (insert or refresh its row)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Replica).values(id=replica_id, started_at=now, seen_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={"seen_at": now})
    await session.exec(stmt)  # type: ignore[call-overload]


def orphaned(owner: Any, since: datetime) -> ColumnElement[bool]:
    """Rows whose owner has not checked in since `since` (or has none). Evaluated inside the
    taking-over UPDATE itself: a replica that checks in and claims work after the decision
    was made cannot lose that work to it."""
    alive = select(Replica.id).where(Replica.seen_at >= since)
    return or_(col(owner).is_(None), col(owner).not_in(alive))


async def forget_replicas(session: AsyncSession, ids: Iterable[str]) -> None:
    await session.exec(delete(Replica).where(col(Replica.id).in_(list(ids))))  # type: ignore[call-overload]


async def dead_replicas(session: AsyncSession, since: datetime) -> set[str]:
    rows = await session.exec(select(Replica.id).where(Replica.seen_at < since))
    return set(rows.all())
