"""/incident resolve: the form that asks for the root cause and impact."""

from __future__ import annotations

from bot.ui import modals
from handlers.commands.invocation import Invocation


async def run(inv: Invocation) -> None:
    incident = await inv.incident()
    await inv.services.incidents.ensure_open(incident.id)  # type: ignore[arg-type]
    inv.services.roles.check_may_steer(incident, inv.user_id, "resolve it")
    await inv.client.views_open(
        trigger_id=inv.trigger_id,
        view=modals.resolve_modal(incident.id, incident.title),  # type: ignore[arg-type]
    )
