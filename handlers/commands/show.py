"""/incident list | timeline: read-only answers, seen only by whoever asked."""

from __future__ import annotations

from bot.ui import messages
from handlers.commands.invocation import Invocation


async def list_open(inv: Invocation) -> None:
    incidents = await inv.services.incidents.open_incidents()
    await inv.answer(messages.open_incidents(incidents, inv.services.clock.now()))


async def timeline(inv: Invocation) -> None:
    incident = await inv.incident()
    page = await inv.services.incidents.timeline_page(incident, int(inv.command.args["page"]))  # type: ignore[call-overload]
    await inv.answer(
        messages.timeline_page(
            messages.TimelinePage(page.incident, page.events, page.page, page.pages)
        )
    )
