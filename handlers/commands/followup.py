"""/incident ack | update | clocks | notified | postmortem | reopen."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.errors import Conflict
from bot.severity import Status
from bot.ui import followup as followup_ui
from bot.ui import ids, messages, modals
from handlers.commands.invocation import Invocation


async def ack(inv: Invocation) -> None:
    incident = await inv.incident()
    await inv.services.followup.acknowledge(incident.id, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(
            f"You acknowledged {messages.incident_ref(incident)}; escalation is stopped."
        )
    )


async def update(inv: Invocation) -> None:
    incident = await inv.incident()
    if incident.status == Status.RESOLVED.value:
        raise Conflict(f"{messages.incident_ref(incident)} is resolved.")
    await inv.client.views_open(
        trigger_id=inv.trigger_id,
        view=followup_ui.update_modal(incident, inv.services.documents.status_update(incident)),
    )


async def clocks(inv: Invocation) -> None:
    incident = await inv.incident()
    rows = await inv.services.followup.pending_clocks(incident.id)  # type: ignore[arg-type]
    zone = None
    try:
        info = await inv.client.users_info(user=inv.user_id)
        zone = (info.get("user") or {}).get("tz")
    except SlackApiError:
        pass  # UTC alone is still right
    await inv.answer(followup_ui.clock_list(incident, rows, zone))


async def notified(inv: Invocation) -> None:
    incident = await inv.incident()
    await inv.services.followup.notified(incident.id, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(messages.info_message("Recorded; the GDPR reminders are stopped."))


async def postmortem(inv: Invocation) -> None:
    incident = await inv.incident()
    if inv.command.args.get("do") == "edit":
        if incident.status != Status.RESOLVED.value:
            raise Conflict(f"{messages.incident_ref(incident)} is not resolved yet.")
        inv.services.roles.check_may_steer(incident, inv.user_id, "edit the review")
        await inv.client.views_open(
            trigger_id=inv.trigger_id,
            view=modals.resolve_modal(incident.id, incident.title, review_answers(incident)),  # type: ignore[arg-type]
        )
        return
    if inv.command.args.get("do") == "done":
        await inv.services.followup.postmortem_done(incident.id, inv.user_id)  # type: ignore[arg-type]
        await inv.answer(messages.info_message("Recorded; the postmortem reminders are stopped."))
        return
    await inv.services.incidents.rerender_postmortem(incident.id, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(
            f"Re-rendered {messages.incident_ref(incident)}'s postmortem from the current "
            "timeline; it is being posted."
        )
    )


async def reopen(inv: Invocation) -> None:
    incident = await inv.incident()
    await inv.services.followup.reopen(incident.id, inv.user_id)  # type: ignore[arg-type]
    await inv.answer(
        messages.info_message(
            f"{messages.incident_ref(incident)} is open again; its clocks restarted."
        )
    )


async def summary(inv: Invocation) -> None:
    incident = await inv.incident()
    services = inv.services
    in_own_channel = inv.channel_id == incident.channel_id
    text = services.documents.summary(
        incident, services.clock.now(), incident.postmortem_url, public=not in_own_channel
    )
    await inv.respond(text=text, blocks=messages.info_message(text)[1], response_type="in_channel")


def review_answers(incident: object) -> dict[str, str | None]:
    """The stored answers of the resolve form, by input id."""
    names = (
        ids.ROOT_CAUSE,
        ids.IMPACT_USERS,
        ids.IMPACT_REVENUE,
        ids.WENT_WELL,
        ids.TO_IMPROVE,
        ids.ACTION_ITEMS,
    )
    return {name: getattr(incident, name) for name in names}
