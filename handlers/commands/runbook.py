"""/incident runbook [<id>]: show the runbooks, or attach one to the incident."""

from __future__ import annotations

from bot.ui import messages
from bot.ui import runbook as runbook_ui
from handlers.commands.invocation import Invocation


async def run(inv: Invocation) -> None:
    incident = await inv.incident()
    services = inv.services
    runbook_id = inv.command.args.get("id")
    if runbook_id:
        runbook = await services.runs.attach(incident.id, str(runbook_id), inv.user_id)  # type: ignore[arg-type]
        where = f"<#{incident.channel_id}>" if incident.channel_id else "the incident's thread"
        await inv.answer(
            messages.info_message(
                f"Attached *{runbook.title}* to {messages.incident_ref(incident)}; "
                f"its steps are posted in {where}."
            )
        )
        return
    if incident.runbook_id:
        attached = await services.runs.repost(incident.id)  # type: ignore[arg-type]
        if attached is not None:
            await inv.answer(
                messages.info_message(
                    f"Posted *{attached.title}* again below; its steps are live. "
                    "`/incident runbook <id>` attaches another."
                )
            )
            return
    suggested = services.runbooks.suggest(incident.title)
    await inv.answer(
        runbook_ui.runbook_list(
            list(services.runbooks),
            incident.runbook_id,
            suggested.id if suggested else None,
        )
    )
