"""Sends requests to the bot the way Slack does: signed, form- or JSON-encoded."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

TEAM = "T1"
APP = "A1"
_counter = itertools.count(1)


class SlackSender:
    def __init__(self, base_url: str, signing_secret: str, response_url: Any) -> None:
        self.url = base_url.rstrip("/") + "/slack/events"
        self.verifier = SignatureVerifier(signing_secret)
        self.http = httpx.AsyncClient(timeout=10)
        self._response_url = response_url

    async def close(self) -> None:
        await self.http.aclose()

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
        }
        all_headers.update(headers or {})
        return await self.http.post(self.url, content=body.encode(), headers=all_headers)

    async def command(
        self, text: str, *, user: str = "UALICE1", channel: str = "CGENERAL1", **kwargs: Any
    ) -> httpx.Response:
        n = next(_counter)
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "somewhere",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": APP,
            "response_url": self._response_url(f"cmd-{n}"),
            "trigger_id": f"trigger-{n}",
        }
        return await self.send(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    async def interaction(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        payload = {"team": {"id": TEAM}, "api_app_id": APP, **payload}
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(body, "application/x-www-form-urlencoded", **kwargs)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "UALICE1",
        channel: str = "CGENERAL1",
        message_ts: str = "1.0",
    ) -> httpx.Response:
        n = next(_counter)
        return await self.interaction(
            {
                "type": "block_actions",
                "user": {"id": user, "username": user.lower()},
                "trigger_id": f"trigger-{n}",
                "response_url": self._response_url(f"act-{n}"),
                "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
                "channel": {"id": channel},
                "message": {"ts": message_ts},
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": "b",
                        "type": "button",
                        "value": value,
                        "action_ts": "1.1",
                    }
                ],
            }
        )

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "UALICE1"
    ) -> httpx.Response:
        """Submit a view the bot opened, with state values {block_id: element state}."""
        state = {block: {block: element} for block, element in values.items()}
        submitted = {
            "id": view.get("id", "V1"),
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view.get("private_metadata", ""),
            "state": {"values": state},
            "hash": "h",
        }
        return await self.interaction(
            {"type": "view_submission", "user": {"id": user}, "view": submitted}
        )

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        envelope = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": APP,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):06d}",
            "event_time": int(time.time()),
            "event": event,
        }
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.send(json.dumps(envelope), "application/json", headers=headers)


def text_value(text: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": text}


def select_value(value: str | None) -> dict[str, Any]:
    option = {"value": value, "text": {"type": "plain_text", "text": value}} if value else None
    return {"type": "static_select", "selected_option": option}


def checkbox_values(*values: str) -> dict[str, Any]:
    return {
        "type": "checkboxes",
        "selected_options": [
            {"value": v, "text": {"type": "plain_text", "text": v}} for v in values
        ],
    }
