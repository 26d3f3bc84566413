"""Runbook messages: the steps as buttons, approval requests, and their forms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.runbooks import HttpStep, LinkStep, Runbook, SnippetStep, StatuspageStep, Step, StepInput
from bot.text import escape, safe, truncate
from bot.ui import ids
from bot.ui.format import hhmm
from storage.models import Incident, StepRun

PHASE_TITLES = {
    "diagnosis": "Diagnosis",
    "mitigation": "Mitigation",
    "post_incident": "Post-incident",
}
Message = tuple[str, list[dict[str, object]]]
MAX_BLOCKS = 50


def step_value(incident_id: int, runbook_id: str, step_id: str, **extra: object) -> str:
    return json.dumps(
        {"i": incident_id, "r": runbook_id, "s": step_id, **extra}, separators=(",", ":")
    )


def _status_line(run: StepRun | None) -> str:
    if run is None:
        return ""
    who = f"<@{run.decided_by or run.requested_by}>"
    summary = safe(run.summary or "", 600)
    return {
        "awaiting_approval": f":hourglass: waiting for approval (asked by <@{run.requested_by}> "
        f"at {hhmm(run.requested_at)})",
        "approved": ":hourglass: approved, starting",
        "running": ":hourglass_flowing_sand: running since "
        f"{hhmm(run.started_at or run.requested_at)}",
        "succeeded": f":white_check_mark: {hhmm(run.finished_at or run.requested_at)} by "
        f"<@{run.requested_by}> — {summary}",
        "failed": f":x: {hhmm(run.finished_at or run.requested_at)} by <@{run.requested_by}> — "
        f"{summary}",
        "unknown": f":grey_question: outcome unknown — {summary}",
        "denied": f":no_entry_sign: denied by {who} at {hhmm(run.decided_at or run.requested_at)}",
        "ticked": f":ballot_box_with_check: done by <@{run.requested_by}> at "
        f"{hhmm(run.requested_at)}",
        "unticked": "",
    }.get(run.state, run.state)


def _step_block(
    incident: Incident, runbook: Runbook, step: Step, run: StepRun | None
) -> SectionBlock:
    title = f"*{escape(step.label)}*"
    if isinstance(step, HttpStep) and step.needs_approval:
        title += "  _· needs approval_"
    lines = [title]
    if step.help:
        lines.append(safe(step.help, 300))
    if isinstance(step, SnippetStep):
        lines.append(f"```{truncate(step.code, 2000)}```")
    status = _status_line(run)
    if status:
        lines.append(status)
    accessory: ButtonElement | None = None
    value = step_value(incident.id, runbook.id, step.id)  # type: ignore[arg-type]
    action_id = ids.STEP_PREFIX + step.id
    if isinstance(step, HttpStep | StatuspageStep):
        accessory = ButtonElement(
            text=step.label,
            action_id=action_id,
            value=value,
            style="danger" if isinstance(step, HttpStep) and step.needs_approval else None,
        )
    elif isinstance(step, LinkStep):
        accessory = ButtonElement(text="Open", action_id=action_id, value=value, url=step.url)
    elif step.kind == "check":
        ticked = run is not None and run.state == "ticked"
        accessory = ButtonElement(
            text="Undo" if ticked else "Done", action_id=action_id, value=value
        )
    return SectionBlock(
        text=MarkdownTextObject(text=truncate("\n".join(lines), 3000)), accessory=accessory
    )


def runbook_message(incident: Incident, runbook: Runbook, runs: Mapping[str, StepRun]) -> Message:
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Runbook · {runbook.title}", 150)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=truncate(
                        f"INC-{incident.id} · `{runbook.id}` · {safe(runbook.symptoms, 500)}", 2000
                    )
                )
            ]
        ),
    ]
    for phase in ("diagnosis", "mitigation", "post_incident"):
        steps: Sequence[Step] = getattr(runbook.phases, phase)
        if not steps:
            continue
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*— {PHASE_TITLES[phase]} —*")))
        blocks.extend(_step_block(incident, runbook, step, runs.get(step.id)) for step in steps)
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="More steps than a Slack message can hold; see the runbook file."
                    )
                ]
            )
        ]
    text = f"Runbook for INC-{incident.id}: {runbook.title}"
    return text, [b.to_dict() for b in blocks]


def approval_request(
    incident: Incident, step: HttpStep, run: StepRun, approvers: Sequence[str]
) -> Message:
    names = ", ".join(f"<@{a}>" for a in approvers) or "_nobody: INCIDENT_APPROVERS is empty_"
    lines = [
        f":lock: <@{run.requested_by}> asks to run *{escape(step.label)}* on INC-{incident.id}.",
        f"Approvers: {names} (not the requester).",
    ]
    inputs = json.loads(run.inputs) if run.inputs else {}
    for name, value in inputs.items():
        lines.append(f"> *{escape(name)}:* {safe(str(value), 500)}")
    value = str(run.id)
    buttons = [
        ButtonElement(
            text="Approve",
            action_id=ids.APPROVE,
            value=value,
            style="primary",
            confirm=ConfirmObject(
                title="Approve and run?",
                text=f"This runs “{step.label}” now.",
                confirm="Approve",
                deny="Cancel",
            ),
        ),
        ButtonElement(
            text="Deny",
            action_id=ids.DENY,
            value=value,
            style="danger",
            confirm=ConfirmObject(
                title="Deny?", text=f"“{step.label}” will not run.", confirm="Deny", deny="Cancel"
            ),
        ),
    ]
    if incident.severity == "P1":
        buttons.append(ButtonElement(text="Break glass", action_id=ids.BREAK_GLASS, value=value))
        lines.append("_P1: the requester may break glass with a reason, which is recorded._")
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), 3000))),
        ActionsBlock(elements=buttons),
    ]
    return f"Approval needed: {step.label} (INC-{incident.id})", [b.to_dict() for b in blocks]


def approval_decided(incident: Incident, step: HttpStep, run: StepRun) -> Message:
    if run.break_glass:
        verdict = (
            f":rotating_light: <@{run.requested_by}> broke glass at "
            f"{hhmm(run.decided_at or run.requested_at)}: {safe(run.reason or '', 500)}"
        )
    elif run.state == "denied":
        verdict = f":no_entry_sign: Denied by <@{run.decided_by}> at {hhmm(run.decided_at)}"
    else:
        verdict = f":white_check_mark: Approved by <@{run.decided_by}> at {hhmm(run.decided_at)}"
    body = (
        f":lock: <@{run.requested_by}> asked to run *{escape(step.label)}* on "
        f"INC-{incident.id}.\n{verdict}"
    )
    text = f"Approval decided: {step.label} (INC-{incident.id}). {verdict}"
    return text, [SectionBlock(text=MarkdownTextObject(text=truncate(body, 3000))).to_dict()]


def _input_block(spec: StepInput, initial: object) -> InputBlock:
    action_id = ids.INPUT_PREFIX + spec.name
    if spec.type == "boolean":
        option = Option(value="true", label="Yes")
        return InputBlock(
            block_id=action_id,
            label=spec.label,
            optional=True,
            element=CheckboxesElement(
                action_id=action_id,
                options=[option],
                initial_options=[option] if initial is True else None,
            ),
        )
    return InputBlock(
        block_id=action_id,
        label=spec.label,
        optional=not spec.required,
        element=PlainTextInputElement(
            action_id=action_id,
            multiline=spec.type == "multiline",
            initial_value=truncate(str(initial), 3000) if initial not in (None, "") else None,
        ),
    )


def step_inputs_modal(
    incident: Incident, runbook_id: str, step: HttpStep, initial: Mapping[str, object]
) -> dict[str, object]:
    note = "An approver must approve before it runs." if step.needs_approval else "It runs now."
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=f"*{escape(step.label)}* on INC-{incident.id}. {note}")
        ),
    ]
    blocks.extend(_input_block(spec, initial.get(spec.name)) for spec in step.inputs)
    return View(
        type="modal",
        callback_id=ids.STEP_INPUTS_VIEW,
        title=PlainTextObject(text=truncate(step.label, 24)),
        submit=PlainTextObject(text="Request" if step.needs_approval else "Run"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=step_value(incident.id, runbook_id, step.id),  # type: ignore[arg-type]
        blocks=blocks,
    ).to_dict()


def break_glass_modal(run: StepRun, label: str) -> dict[str, object]:
    return View(
        type="modal",
        callback_id=ids.BREAK_GLASS_VIEW,
        title=PlainTextObject(text="Break glass"),
        submit=PlainTextObject(text="Run without approval"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"r": run.id}),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Run *{escape(label)}* now, without an approver. The reason is recorded "
                    "in the timeline and announced."
                )
            ),
            InputBlock(
                block_id=ids.BREAK_GLASS_REASON,
                label="Reason",
                element=PlainTextInputElement(
                    action_id=ids.BREAK_GLASS_REASON, multiline=True, max_length=500
                ),
            ),
        ],
    ).to_dict()


def runbook_list(
    runbooks: Sequence[Runbook], attached: str | None, suggested: str | None
) -> Message:
    lines = ["*Runbooks* — attach one with `/incident runbook <id>`:"]
    for runbook in runbooks:
        mark = (
            " _(attached)_"
            if runbook.id == attached
            else (" _(suggested)_" if runbook.id == suggested else "")
        )
        lines.append(
            f"• `{runbook.id}` — {escape(runbook.title)} ({runbook.default_severity}){mark}"
        )
    text = "\n".join(lines)
    return text, [SectionBlock(text=MarkdownTextObject(text=truncate(text, 3000))).to_dict()]


def suggest_button(incident_id: int, runbook: Runbook) -> dict[str, object]:
    return ActionsBlock(
        elements=[
            ButtonElement(
                text=truncate(f"Attach runbook: {runbook.title}", 75),
                action_id=ids.ATTACH_RUNBOOK,
                value=json.dumps({"i": incident_id, "r": runbook.id}, separators=(",", ":")),
            )
        ]
    ).to_dict()
