"""manifest.yml is valid for Slack and declares what the code uses."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_matches_slacks_published_schema(manifest):
    if not SCHEMA.exists():
        # CI always has shared/ beside the checkout; a lone clone may not.
        message = f"Slack's manifest schema is not at {SCHEMA}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    jsonschema.validate(manifest, json.loads(SCHEMA.read_text()))


def test_manifest_declares_the_command_interactivity_events_and_socket_mode(manifest):
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/incident" and command["should_escape"] is True
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "reaction_added",
        "reaction_removed",
        "app_home_opened",
    }
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


# Web API methods the code calls, and the bot scope each needs (None: no scope needed).
SCOPE_OF = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_getPermalink": None,
    "conversations_create": "channels:manage",
    "conversations_invite": "channels:manage",
    "conversations_setTopic": "channels:manage",
    "conversations_archive": "channels:manage",
    "conversations_join": "channels:join",
    "users_info": "users:read",
    "pins_add": "pins:write",
    "bookmarks_add": "bookmarks:write",
    "files_upload_v2": "files:write",
    "files_info": "files:read",
    "views_open": None,
    "views_publish": None,
    "conversations_members": "groups:read",
    "auth_test": None,
}


def test_every_web_api_call_in_the_code_has_its_scope(manifest):
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    used = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    unknown = used - set(SCOPE_OF)
    assert not unknown, f"add these methods to SCOPE_OF with their scope: {unknown}"
    missing = {SCOPE_OF[m] for m in used if SCOPE_OF[m]} - scopes
    assert not missing, f"manifest.yml lacks scopes {missing}"
    assert "commands" in scopes
