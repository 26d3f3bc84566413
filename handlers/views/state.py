"""Reading values out of a submitted view's state."""

from __future__ import annotations

import json
from typing import Any


def value(view: dict[str, Any], block_id: str) -> str | None:
    element = view["state"]["values"].get(block_id, {}).get(block_id, {})
    if "selected_option" in element:
        option = element.get("selected_option")
        return option.get("value") if option else None
    text = element.get("value")
    return text.strip() if isinstance(text, str) and text.strip() else None


def checked(view: dict[str, Any], block_id: str) -> set[str]:
    element = view["state"]["values"].get(block_id, {}).get(block_id, {})
    return {o["value"] for o in element.get("selected_options") or []}


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
