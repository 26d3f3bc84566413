"""Declaring, shared by the command, the form and the "Declare anyway" button."""

from __future__ import annotations

import json
from datetime import datetime

from bot.incidents import Declaration
from bot.services import Services
from bot.severity import Severity
from bot.ui import messages
from bot.ui import runbook as runbook_ui

# Slack caps a button value at 2000 characters (as sent: JSON-escaped).
_BUTTON_VALUE = 1900


def to_button_value(declaration: Declaration) -> dict[str, object]:
    """The declaration carried by "Declare anyway"; the description is cut to fit."""
    value: dict[str, object] = {
        "t": declaration.title,
        "s": declaration.severity.value,
        "d": declaration.description or None,
        "r": declaration.runbook_id,
        "p": declaration.private,
        "at": declaration.detected_at.isoformat() if declaration.detected_at else None,
        "a": declaration.alert_id,
    }
    description = declaration.description or ""
    while len(json.dumps(value, separators=(",", ":"))) > _BUTTON_VALUE and description:
        description = description[: len(description) * 3 // 4]
        value["d"] = description + "…" if description else None
    return value


def from_button_value(value: str, user_id: str) -> Declaration:
    data = json.loads(value)
    return Declaration(
        title=str(data["t"]),
        severity=Severity(data["s"]),
        declared_by=user_id,
        description=data.get("d"),
        runbook_id=data.get("r"),
        private=bool(data.get("p")),
        detected_at=datetime.fromisoformat(data["at"]) if data.get("at") else None,
        alert_id=int(data["a"]) if data.get("a") is not None else None,
    )


async def declare_or_ask(
    services: Services, declaration: Declaration, *, check_similar: bool = True
) -> messages.Message:
    """Declare, unless an open incident sounds the same: then ask first."""
    if check_similar:
        similar = await services.incidents.similar_open(declaration.title)
        if similar is not None:
            return messages.similar_prompt(similar, to_button_value(declaration))
    incident = await services.incidents.declare(declaration)
    text, blocks = messages.declared(incident, services.settings.incidents_channel)
    suggested = None if incident.runbook_id else services.runbooks.suggest(incident.title)
    if suggested is not None:
        text += f"\nSuggested runbook: {suggested.title} (`{suggested.id}`)."
        blocks = [
            *blocks,
            *messages.info_message(f"Suggested runbook: *{suggested.title}* (`{suggested.id}`).")[
                1
            ],
            runbook_ui.suggest_button(incident.id, suggested),  # type: ignore[arg-type]
        ]
    return text, blocks
