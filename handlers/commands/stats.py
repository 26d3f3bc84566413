"""/incident stats [30d|90d|1y]: the numbers to whoever asked, the chart to the channel."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from bot import chart
from bot.ui import insights as insights_ui
from bot.ui import messages
from handlers.commands.invocation import Invocation

log = logging.getLogger(__name__)


async def run(inv: Invocation) -> None:
    period = str(inv.command.args["period"])
    stats = inv.services.stats
    insights = await stats.insights(period)
    await inv.answer(insights_ui.stats_message(insights, stats.step_labels(insights)))
    name = insights_ui.PERIOD_NAMES[period]
    title = f"Incidents per week, last {name} (median time to resolve as the line)"
    # Drawing takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(chart.render, insights.weeks, title)
    try:
        await inv.client.files_upload_v2(
            channel=inv.channel_id,
            file=png,
            filename=f"incidents-{period}.png",
            title=f"Incidents per week, last {name}",
            initial_comment=f"Incidents per week over the last {name}, for <@{inv.user_id}>.",
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        log.info("could not upload the stats chart: %s", error)
        incidents = inv.services.settings.incidents_channel
        await inv.answer(
            messages.error_message(
                f"I could not post the chart here ({error or 'Slack refused it'}): invite me "
                f"to this channel, or ask in <#{incidents}>.",
                None,
            )
        )
