"""Queries about alerts: the recent one with a dedup key, the open incident with a runbook."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Alert, Incident
from storage.queries import RESOLVED


async def latest_with_key(session: AsyncSession, dedup_key: str, since: datetime) -> Alert | None:
    """The newest alert with this key seen at or after `since`."""
    stmt = (
        select(Alert)
        .where(Alert.dedup_key == dedup_key, col(Alert.last_at) >= since)
        .order_by(col(Alert.id).desc())
    )
    return (await session.exec(stmt)).first()


async def unrecovered_with_key(session: AsyncSession, dedup_key: str) -> Alert | None:
    stmt = (
        select(Alert)
        .where(Alert.dedup_key == dedup_key, col(Alert.recovered_at).is_(None))
        .order_by(col(Alert.id).desc())
    )
    return (await session.exec(stmt)).first()


async def open_incident_with_runbook(session: AsyncSession, runbook_id: str) -> Incident | None:
    stmt = (
        select(Incident)
        .where(Incident.runbook_id == runbook_id, Incident.status != RESOLVED)
        .order_by(col(Incident.id).desc())
    )
    return (await session.exec(stmt)).first()


async def decide(session: AsyncSession, alert_id: int, new_state: str, **values: object) -> bool:
    """Compare-and-set an open alert to `new_state`: False if someone decided it first."""
    result = await session.exec(
        update(Alert)  # type: ignore[call-overload]
        .where(col(Alert.id) == alert_id, col(Alert.state) == "open")
        .values(state=new_state, **values)
    )
    return result.rowcount == 1
