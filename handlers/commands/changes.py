"""/incident status | severity | commander | note: change the incident, then confirm."""

from __future__ import annotations

from bot.severity import Severity, Status
from bot.ui import messages
from handlers.commands import resolve
from handlers.commands.invocation import Invocation


async def status(inv: Invocation) -> None:
    new = Status(inv.command.args["status"])
    if new is Status.RESOLVED:
        # Resolving needs a root cause: the same form as /incident resolve.
        await resolve.run(inv)
        return
    incident = await inv.incident()
    await inv.services.incidents.set_status(incident.id, new, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(f"{messages.incident_ref(incident)} is now *{new.label}*.")
    )


async def severity(inv: Invocation) -> None:
    new = Severity(inv.command.args["severity"])
    incident = await inv.incident()
    await inv.services.incidents.set_severity(incident.id, new, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(f"{messages.incident_ref(incident)} is now *{new.label}*.")
    )


async def commander(inv: Invocation) -> None:
    user = str(inv.command.args["user"])
    incident = await inv.incident()
    await inv.services.incidents.set_commander(incident.id, user, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(f"<@{user}> now commands {messages.incident_ref(incident)}.")
    )


async def note(inv: Invocation) -> None:
    incident = await inv.incident()
    await inv.services.incidents.add_note(
        incident.id,
        str(inv.command.args["text"]),
        inv.user_id,  # type: ignore[arg-type]
    )
    await inv.answer(
        messages.info_message(f"Noted in {messages.incident_ref(incident)}'s timeline.")
    )
