"""Modals: the declare form and the resolve form."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.severity import Severity
from bot.ui import ids


def _text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    initial: str | None = None,
    max_length: int = 3000,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=PlainTextInputElement(
            action_id=block_id,
            multiline=multiline,
            initial_value=initial or None,
            max_length=max_length,
            placeholder=placeholder,
        ),
    )


def declare_modal(
    *,
    title: str = "",
    severity: Severity | None = None,
    runbooks: Sequence[tuple[str, str]] = (),
    runbook: str | None = None,
    private: bool = False,
    channel_id: str | None = None,
    description: str = "",
    alert_id: int | None = None,
) -> dict[str, object]:
    """runbooks: (id, title) pairs offered in a select; runbook: the one preselected;
    alert_id: the alert being declared (prefilled from it), carried to the submission."""
    severity_options = [Option(value=s.value, label=s.label) for s in Severity]
    initial_severity = next((o for o in severity_options if o.value == severity), None)
    blocks = [
        _text_input(
            ids.TITLE,
            "Title",
            initial=title,
            max_length=150,
            placeholder="What is happening, in a few words",
        ),
        InputBlock(
            block_id=ids.SEVERITY,
            label="Severity",
            element=StaticSelectElement(
                action_id=ids.SEVERITY,
                options=severity_options,
                initial_option=initial_severity,
                placeholder="P1 full outage … P4 minor",
            ),
        ),
        _text_input(
            ids.DESCRIPTION, "Description", multiline=True, optional=True, initial=description
        ),
        _text_input(
            ids.DETECTED_AT,
            "First detected (UTC)",
            optional=True,
            max_length=16,
            placeholder="YYYY-MM-DD HH:MM — empty means now; starts a breach's 72 h clock",
        ),
    ]
    if runbooks:
        options = [Option(value=rid, label=f"{rtitle} ({rid})"[:75]) for rid, rtitle in runbooks]
        initial_runbook = next((o for o in options if o.value == runbook), None)
        blocks.append(
            InputBlock(
                block_id=ids.RUNBOOK,
                label="Runbook",
                optional=True,
                element=StaticSelectElement(
                    action_id=ids.RUNBOOK,
                    options=options[:100],
                    initial_option=initial_runbook,
                    placeholder="Suggested from the title if left empty",
                ),
            )
        )
    private_option = Option(value="private", label="Private: only invited people see it")
    blocks.append(
        InputBlock(
            block_id=ids.PRIVATE,
            label="Visibility",
            optional=True,
            element=CheckboxesElement(
                action_id=ids.PRIVATE,
                options=[private_option],
                initial_options=[private_option] if private else None,
            ),
        )
    )
    view = View(
        type="modal",
        callback_id=ids.DECLARE_VIEW,
        title=PlainTextObject(text="Declare incident"),
        submit=PlainTextObject(text="Declare"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps(
            {"channel": channel_id, **({"alert": alert_id} if alert_id is not None else {})}
        ),
        blocks=blocks,
    )
    return view.to_dict()


def resolve_modal(
    incident_id: int, title: str, review: Mapping[str, str | None] | None = None
) -> dict[str, object]:
    """The resolve form; with `review` (the stored answers) it edits them after resolve."""
    now = review or {}
    blocks = [
        _text_input(
            ids.ROOT_CAUSE,
            "Root cause",
            multiline=True,
            placeholder="What caused this? Be specific.",
            initial=now.get(ids.ROOT_CAUSE),
        ),
        _text_input(
            ids.IMPACT_USERS,
            "Users affected",
            optional=True,
            max_length=200,
            placeholder="~X",
            initial=now.get(ids.IMPACT_USERS),
        ),
        _text_input(
            ids.IMPACT_REVENUE,
            "Revenue impact",
            optional=True,
            max_length=200,
            placeholder="~$X",
            initial=now.get(ids.IMPACT_REVENUE),
        ),
        _text_input(
            ids.WENT_WELL,
            "What went well",
            multiline=True,
            optional=True,
            initial=now.get(ids.WENT_WELL),
        ),
        _text_input(
            ids.TO_IMPROVE,
            "What could be improved",
            multiline=True,
            optional=True,
            initial=now.get(ids.TO_IMPROVE),
        ),
        _text_input(
            ids.ACTION_ITEMS,
            "Action items",
            multiline=True,
            optional=True,
            placeholder="One per line: owner: task — due date",
            initial=now.get(ids.ACTION_ITEMS),
        ),
    ]
    editing = review is not None
    view = View(
        type="modal",
        callback_id=ids.REVIEW_VIEW if editing else ids.RESOLVE_VIEW,
        title=PlainTextObject(text=f"{'Review' if editing else 'Resolve'} INC-{incident_id}"[:24]),
        submit=PlainTextObject(text="Save" if editing else "Resolve"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"incident": incident_id, "title": title[:200]}),
        blocks=blocks,
    )
    return view.to_dict()
