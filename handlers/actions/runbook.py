"""Runbook buttons: a step pressed, Approve, Deny, Break glass, and "Attach runbook"."""

from __future__ import annotations

import json
import re

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.runbooks import HttpStep, LinkStep, SnippetStep
from bot.services import Services
from bot.ui import ids, messages
from bot.ui import runbook as runbook_ui
from handlers.replies import guarded, reply


def register(app: AsyncApp, services: Services) -> None:
    runs = services.runs

    @app.action(re.compile("^" + re.escape(ids.STEP_PREFIX)))
    @guarded
    async def step_pressed(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        value = json.loads(body["actions"][0]["value"])
        user = body["user"]["id"]
        ref = await runs.resolve_step(int(value["i"]), str(value["s"]), value.get("r"))
        step = ref.step
        if isinstance(step, LinkStep | SnippetStep):
            return  # the link opens in the browser; snippets are for copying
        if step.kind == "check":
            await runs.tick(ref, user, bool(value.get("done", True)))
            return
        if isinstance(step, HttpStep) and step.inputs:
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=runbook_ui.step_inputs_modal(
                    ref.incident, ref.runbook.id, step, runs.initial_inputs(ref)
                ),
            )
            return
        run = await runs.request(ref, user)
        if run.state == "awaiting_approval":
            await reply(
                respond,
                messages.info_message(
                    f"Asked for approval to run *{step.label}*; it runs once someone approves."
                ),
            )

    @app.action(ids.APPROVE)
    @guarded
    async def approve(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        await runs.approve(int(body["actions"][0]["value"]), body["user"]["id"])

    @app.action(ids.DENY)
    @guarded
    async def deny(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        await runs.deny(int(body["actions"][0]["value"]), body["user"]["id"])

    @app.action(ids.BREAK_GLASS)
    @guarded
    async def break_glass(
        ack: AsyncAck, body: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        run, ref = await runs.check_break_glass(
            int(body["actions"][0]["value"]), body["user"]["id"]
        )
        await client.views_open(
            trigger_id=body["trigger_id"],
            view=runbook_ui.break_glass_modal(run, ref.step.label),
        )

    @app.action(ids.ATTACH_RUNBOOK)
    @guarded
    async def attach(ack: AsyncAck, body: dict, respond: AsyncRespond) -> None:
        await ack()
        value = json.loads(body["actions"][0]["value"])
        runbook = await runs.attach(int(value["i"]), str(value["r"]), body["user"]["id"])
        await reply(
            respond,
            messages.info_message(f"Attached *{runbook.title}* to INC-{value['i']}."),
            replace=True,
        )
