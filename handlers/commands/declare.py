"""/incident declare: straight from the command line, or through the form."""

from __future__ import annotations

from bot.incidents import Declaration
from bot.severity import Severity
from bot.ui import modals
from handlers.commands.invocation import Invocation
from handlers.declaring import declare_or_ask


async def run(inv: Invocation) -> None:
    args = inv.command.args
    if args["form"]:
        runbooks = inv.services.runbooks
        suggested = runbooks.suggest(str(args["title"])) if args["title"] else None
        await inv.client.views_open(
            trigger_id=inv.trigger_id,
            view=modals.declare_modal(
                title=str(args["title"]),
                runbooks=[(r.id, r.title) for r in runbooks],
                runbook=args["runbook"] or (suggested.id if suggested else None),  # type: ignore[arg-type]
                private=bool(args["private"]),
                channel_id=inv.channel_id,
            ),
        )
        return
    declaration = Declaration(
        title=str(args["title"]),
        severity=Severity(args["severity"]),
        declared_by=inv.user_id,
        runbook_id=args["runbook"],  # type: ignore[arg-type]
        private=bool(args["private"]),
    )
    message = await declare_or_ask(inv.services, declaration)
    await inv.answer(message)
