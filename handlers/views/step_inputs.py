"""A runbook step's form (e.g. the maintenance message, the force-logout reason)."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import IncidentError
from bot.runbooks import HttpStep
from bot.services import Services
from bot.ui import ids, messages
from handlers.replies import guarded, whisper


def _inputs(view: dict, step: HttpStep) -> dict[str, object]:
    values = view["state"]["values"]
    inputs: dict[str, object] = {}
    for spec in step.inputs:
        key = ids.INPUT_PREFIX + spec.name
        element = values.get(key, {}).get(key, {})
        if spec.type == "boolean":
            inputs[spec.name] = bool(element.get("selected_options"))
        else:
            inputs[spec.name] = (element.get("value") or "").strip()
    return inputs


def _on_first_input(view: dict, message: str) -> dict[str, str]:
    blocks = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"]
    first = blocks[0] if blocks else next(iter(view["state"]["values"]), "input")
    return {first: message[:150]}


def register(app: AsyncApp, services: Services) -> None:
    runs = services.runs

    @app.view(ids.STEP_INPUTS_VIEW)
    @guarded
    async def step_inputs_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body["view"]
        meta = json.loads(view["private_metadata"])
        user = body["user"]["id"]
        try:
            ref = await runs.resolve_step(int(meta["i"]), str(meta["s"]), meta.get("r"))
        except IncidentError as exc:
            # Answer inside the form: Slack needs an ack within 3 s whatever happened.
            await ack(response_action="errors", errors=_on_first_input(view, exc.message))
            return
        step = ref.step
        if not isinstance(step, HttpStep):
            await ack()
            return
        inputs = _inputs(view, step)
        problems = runs.check_inputs(ref, inputs)
        if problems:
            await ack(
                response_action="errors",
                errors={ids.INPUT_PREFIX + name: text for name, text in problems.items()},
            )
            return
        await ack()
        run = await runs.request(ref, user, inputs)
        if run.state == "awaiting_approval":
            await whisper(
                client,
                ref.incident.channel_id,
                user,
                messages.info_message(
                    f"Asked for approval to run *{step.label}*; it runs once someone approves."
                ),
            )
