"""A local, stateful fake of the Slack Web API for tests.

Point a real ``AsyncWebClient(token="xoxb-...", base_url=fake.base_url)`` at it. The fake records
every call, answers the way Slack does (``{"ok": false, "error": ...}`` with HTTP 200, 429 with
``Retry-After``), keeps enough state for an incident bot (channels, messages, pins, bookmarks,
views, files) and lets a test inject latency, errors, rate limits and outages.

Wire facts it mirrors (checked against slack_sdk 3.48):
- many ``AsyncWebClient`` methods send ``params=`` which aiohttp puts in the *query string* of a
  POST with an empty form body; ``chat.*`` and ``views.*`` send JSON; a few methods use GET. So
  arguments are merged from query string and body, and both verbs are routed.
- ``files_upload_v2`` POSTs the raw bytes (``application/octet-stream``, no ``Authorization``
  header) to the ``upload_url`` and only treats a ``text/plain`` answer as text; any status other
  than 200 there raises ``SlackRequestError`` (not ``SlackApiError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import bind

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_NAME = "Test"
TEAM_URL = "https://test.slack.com/"

# Pseudo-method names for fault injection on the non-Web-API endpoints ("*" does not cover them).
RESPONSE_URL = "response_url"
UPLOAD = "upload"

# Form fields Slack accepts as JSON-encoded strings; decoded so recorded args are Python objects.
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "files", "metadata"})
CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
# Only ids shaped like real Slack channel ids are auto-created (so "#nope" or "C-bad" still fail).
AUTO_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_TEXT = 40_000
MAX_UPDATE_TEXT = 4_000
MAX_TOPIC = 250
MAX_CHANNEL_NAME = 80
RESPONSE_URL_MAX_POSTS = 5
POLL_INTERVAL = 0.01


@dataclass
class Call:
    """One Web API request as the fake saw it."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    failed: str | None = None  # the Slack error (or "http_500") it was answered with, if any
    status: int = 200
    token: str | None = None


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)  # message timestamps
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    is_im: bool = False
    user: str | None = None  # the other party of a DM

    def message(self, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == ts), None)

    def to_api(self) -> dict[str, Any]:
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.user, "created": self.created}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": False,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": self.archived,
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "creator": BOT_USER_ID,
            "topic": {"value": self.topic, "creator": BOT_USER_ID, "last_set": 0},
            "purpose": {"value": self.purpose, "creator": BOT_USER_ID, "last_set": 0},
            "num_members": len(self.members),
        }


@dataclass
class FakeFile:
    id: str
    name: str
    length: int  # as declared to files.getUploadURLExternal
    title: str | None = None
    content: bytes | None = None  # None until the upload URL received the bytes
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class _Fault:
    method: str
    error: str
    remaining: int
    status: int
    retry_after: int | None


@dataclass
class _EveryFault:
    n: int
    method: str
    status: int
    error: str
    retry_after: int | None
    seen: int = 0


class _SlackError(Exception):
    """Raised inside a handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _csv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _require(args: dict[str, Any], name: str) -> Any:
    value = args.get(name)
    if value is None or value == "":
        # Slack's generic answer for a missing required argument.
        raise _SlackError("invalid_arguments", response_metadata={"messages": [f"{name} missing"]})
    return value


def _headers_with_retry(status: int, retry_after: int | None) -> dict[str, str]:
    return {"Retry-After": str(retry_after or 1)} if status == 429 else {}


class FakeSlack:
    """Stateful fake Slack Web API served by aiohttp on 127.0.0.1 (random port)."""

    def __init__(
        self,
        *,
        strict_channels: bool = False,
        strict_methods: bool = False,
        single_use_triggers: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.strict_channels = strict_channels
        self.strict_methods = strict_methods
        self.single_use_triggers = single_use_triggers
        self.host = host
        self.port = port
        self.latency: float = 0.0
        # Per-method latency; replaces (does not add to) ``latency`` for that method.
        self.latency_for: dict[str, float] = {}

        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        self.channels: dict[str, FakeChannel] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published Home tab
        self.files: dict[str, FakeFile] = {}
        self.ephemerals: list[dict[str, Any]] = []
        # users.info overrides, merged over the generated default profile.
        self.users: dict[str, dict[str, Any]] = {}
        self.response_url_max_posts: int | None = RESPONSE_URL_MAX_POSTS

        self._faults: list[_Fault] = []
        self._every: list[_EveryFault] = []
        self._server_errors = False
        self._used_triggers: set[str] = set()
        self._response_posts: dict[str, int] = {}
        self._dms: dict[str, str] = {}  # user id -> D channel id
        self._counters: dict[str, int] = {}
        self._ts_micros = 1_700_000_000_000_000
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "conversations.create": self._conversations_create,
            "conversations.invite": self._conversations_invite,
            "conversations.join": self._conversations_join,
            "conversations.setTopic": self._conversations_set_topic,
            "conversations.setPurpose": self._conversations_set_purpose,
            "conversations.archive": self._conversations_archive,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "pins.add": self._pins_add,
            "bookmarks.add": self._bookmarks_add,
            "reactions.add": self._reactions_add,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
        }

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self._bind()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_down(self) -> None:
        """Close the listener and open connections: clients get connection refused."""
        await self.stop()

    async def come_back(self) -> None:
        """Listen again on the same port, so ``base_url`` stays valid."""
        if self._runner is None:
            await self._bind()

    async def _bind(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{key}", self._handle_response_url)
        self._runner, self.port = await bind(app, self.host, self.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        # Trailing slash matters: AsyncWebClient joins with urljoin.
        return f"{self.url}/api/"

    def response_url(self, key: str | None = None) -> str:
        return f"{self.url}/response/{key or secrets.token_hex(8)}"

    # ------------------------------------------------------------------ seeding

    def add_channel(
        self,
        id: str,
        name: str,
        members: Iterable[str] = (),
        is_private: bool = False,
    ) -> FakeChannel:
        channel = FakeChannel(
            id=id,
            name=name,
            is_private=is_private,
            members={BOT_USER_ID, *members},
            created=self._ts_micros // 1_000_000,
        )
        self.channels[id] = channel
        return channel

    # ------------------------------------------------------------------ recording helpers

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def reset_calls(self) -> None:
        self.calls.clear()

    def reset(self) -> None:
        """Forget calls, responses, faults and latency; keep the workspace state."""
        self.calls.clear()
        self.responses.clear()
        self._response_posts.clear()
        self.clear_faults()
        self.latency = 0.0
        self.latency_for.clear()

    def describe_calls(self) -> str:
        if not self.calls:
            return "  (no calls)"
        lines = []
        for c in self.calls:
            args = ", ".join(f"{k}={_short(v)}" for k, v in c.args.items())
            failed = f" -> {c.failed}" if c.failed else ""
            lines.append(f"  {c.method}({args}){failed}")
        return "\n".join(lines)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - polling helper; the name is the agreed API
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` matching calls arrived; return all matching calls so far."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                cond = " matching `where`" if where is not None else ""
                raise AssertionError(
                    f"expected {count} call(s) to {method}{cond} within {timeout}s, "
                    f"got {len(matching)}; calls received:\n{self.describe_calls()}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - polling helper; the name is the agreed API
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout}s; calls received:\n{self.describe_calls()}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def wait_for_response(
        self,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - polling helper; the name is the agreed API
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            matching = [r for r in self.responses if where is None or where(r)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"expected {count} response_url post(s) within {timeout}s, got "
                    f"{len(matching)}; posts received: {self.responses!r}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    # ------------------------------------------------------------------ fault injection

    def fail(
        self,
        method: str,
        error: str = "internal_error",
        *,
        times: int = 1,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` ("*": any Web API method) with an error."""
        if status == 429:
            error = "ratelimited"
        self._faults.append(_Fault(method, error, times, status, retry_after))

    def fail_every(
        self,
        n: int,
        status: int = 429,
        retry_after: int | None = 1,
        method: str = "*",
        error: str = "internal_error",
    ) -> None:
        """Fail every n-th matching call (the n-th, 2n-th, ...) until ``clear_faults()``."""
        if n < 1:
            raise ValueError("n must be >= 1")
        if status == 429:
            error = "ratelimited"
        self._every.append(_EveryFault(n, method, status, error, retry_after))

    def server_errors(self, on: bool) -> None:
        """While on, every endpoint answers HTTP 500 with a text body."""
        self._server_errors = on

    def clear_faults(self) -> None:
        self._faults.clear()
        self._every.clear()
        self._server_errors = False

    def _take_fault(self, method: str, wildcard: bool) -> _Fault | None:
        def matches(target: str) -> bool:
            return target == method or (wildcard and target == "*")

        # Every-n counters advance on every matching call, even one a queued fault answers.
        every_hit: _Fault | None = None
        for rule in self._every:
            if matches(rule.method):
                rule.seen += 1
                if rule.seen % rule.n == 0 and every_hit is None:
                    every_hit = _Fault(rule.method, rule.error, 1, rule.status, rule.retry_after)
        for fault in self._faults:
            if matches(fault.method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return every_hit

    # ------------------------------------------------------------------ HTTP endpoints

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        arrived = time.monotonic()
        args, parse_error = await _read_args(request)
        headers = dict(request.headers)
        token = _token(headers, args)
        call = Call(method=method, args=args, headers=headers, at=arrived, token=token)
        self.calls.append(call)
        # Everything from here to the sleep is synchronous, so observers never see a half-filled
        # Call (e.g. `failed` still None for a call that is going to fail).
        resp_headers: dict[str, str] = {}
        if self._server_errors:
            call.failed, call.status = "http_500", 500
            await self._delay(method)
            return web.Response(status=500, text="Internal Server Error")
        fault = self._take_fault(method, wildcard=True)
        if fault is not None:
            call.failed, call.status = fault.error, fault.status
            body: dict[str, Any] = {"ok": False, "error": fault.error}
            resp_headers = _headers_with_retry(fault.status, fault.retry_after)
        else:
            body = self._dispatch(method, args, token, parse_error)
            if not body.get("ok"):
                call.failed = str(body.get("error"))
        await self._delay(method)
        return web.json_response(body, status=call.status, headers=resp_headers)

    def _dispatch(
        self, method: str, args: dict[str, Any], token: str | None, parse_error: str | None
    ) -> dict[str, Any]:
        if parse_error:
            return {"ok": False, "error": parse_error}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith(("xoxb-", "xoxp-")):
            return {"ok": False, "error": "invalid_auth"}
        handler = self._handlers.get(method)
        if handler is None:
            if self.strict_methods:
                return {"ok": False, "error": "unknown_method", "req_method": method}
            # Unmodelled methods succeed so the bot under test never trips on them.
            return {"ok": True}
        try:
            return {"ok": True, **handler(args)}
        except _SlackError as err:
            return {"ok": False, "error": err.error, **err.extra}

    async def _delay(self, method: str) -> None:
        delay = self.latency_for.get(method, self.latency)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        if self._server_errors:
            return web.Response(status=500, text="Internal Server Error")
        fault = self._take_fault(UPLOAD, wildcard=False)
        if fault is not None:
            return web.Response(
                status=fault.status if fault.status != 200 else 500,
                text=fault.error,
                headers=_headers_with_retry(fault.status, fault.retry_after),
            )
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="file_not_found")
        if request.content_type == "multipart/form-data":
            data = b""
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "filename", None) is not None:
                    data = await part.read()  # type: ignore[union-attr]
                    break
        else:
            # What slack_sdk's files_upload_v2 sends: the raw bytes as the body.
            data = await request.read()
        file.content = data
        return web.Response(status=200, text=f"OK - {len(data)}")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        if self._server_errors:
            return web.Response(status=500, text="Internal Server Error")
        fault = self._take_fault(RESPONSE_URL, wildcard=False)
        if fault is not None:
            return web.Response(
                status=fault.status if fault.status != 200 else 500,
                text=fault.error,
                headers=_headers_with_retry(fault.status, fault.retry_after),
            )
        try:
            payload = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="invalid_payload")
        if not (
            payload.get("text")
            or payload.get("blocks")
            or payload.get("attachments")
            or _truthy(payload.get("delete_original"))
        ):
            return web.Response(status=400, text="no_text")
        used = self._response_posts.get(key, 0)
        if self.response_url_max_posts is not None and used >= self.response_url_max_posts:
            # Slack allows 5 posts per response_url; the exact body text is an approximation.
            return web.Response(status=404, text="used_url")
        self._response_posts[key] = used + 1
        self.responses.append({**payload, "key": key})
        return web.Response(status=200, text="ok")

    # ------------------------------------------------------------------ id / ts generation

    def _new_id(self, prefix: str, taken: Iterable[str] = ()) -> str:
        taken_set = set(taken)
        while True:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
            candidate = f"{prefix}{n:07d}"
            if candidate not in taken_set:
                return candidate

    def _new_ts(self) -> str:
        self._ts_micros += 100
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

    # ------------------------------------------------------------------ channel resolution

    def _channel(self, ref: Any, *, for_post: bool = False) -> FakeChannel:
        if not ref:
            raise _SlackError("channel_not_found")
        ref = str(ref)
        if ref in self.channels:
            return self.channels[ref]
        if for_post and USER_ID_RE.match(ref):
            return self._dm_channel(ref)
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        if not self.strict_channels and AUTO_CHANNEL_RE.match(ref):
            # Convenience: an unseeded channel id springs into existence as a public channel.
            return self.add_channel(ref, f"auto-{ref.lower()}")
        raise _SlackError("channel_not_found")

    def _dm_channel(self, user: str) -> FakeChannel:
        if user not in self._dms:
            dm_id = self._new_id("D", self.channels)
            self._dms[user] = dm_id
            self.channels[dm_id] = FakeChannel(
                id=dm_id,
                name=user,
                members={BOT_USER_ID, user},
                created=self._ts_micros // 1_000_000,
                is_im=True,
                user=user,
            )
        return self.channels[self._dms[user]]

    def _writable(self, ref: Any, *, for_post: bool = False) -> FakeChannel:
        channel = self._channel(ref, for_post=for_post)
        if channel.archived:
            raise _SlackError("is_archived")
        return channel

    # ------------------------------------------------------------------ handlers: auth, users

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": "incident-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(_require(args, "user"))
        override = self.users.get(user_id)
        if override is None and not USER_ID_RE.match(user_id):
            raise _SlackError("user_not_found")
        name = user_id.lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == BOT_USER_ID,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }
        user.update(override or {})
        return {"user": user}

    # ------------------------------------------------------------------ handlers: conversations

    def _conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name")
        if not name:
            raise _SlackError("invalid_name_required")
        name = str(name)
        if not CHANNEL_NAME_RE.match(name):
            raise _SlackError("invalid_name_specials")
        if len(name) > MAX_CHANNEL_NAME:
            raise _SlackError("invalid_name_maxlength")
        if any(c.name == name for c in self.channels.values() if not c.is_im):
            raise _SlackError("name_taken")
        channel = self.add_channel(
            self._new_id("C", self.channels), name, is_private=_truthy(args.get("is_private"))
        )
        return {"channel": channel.to_api()}

    def _conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        users = _csv(args.get("users"))
        if not users:
            raise _SlackError("no_user")
        if BOT_USER_ID in users:
            raise _SlackError("cant_invite_self")
        unknown = [u for u in users if not USER_ID_RE.match(u)]
        if unknown:
            raise _SlackError("user_not_found")
        new = [u for u in users if u not in channel.members]
        if not new:
            raise _SlackError("already_in_channel")
        channel.members.update(new)
        return {"channel": channel.to_api()}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        if channel.is_private or channel.is_im:
            raise _SlackError("method_not_supported_for_channel_type")
        extra: dict[str, Any] = {}
        if BOT_USER_ID in channel.members:
            extra = {"warning": "already_in_channel"}
        channel.members.add(BOT_USER_ID)
        return {"channel": channel.to_api(), **extra}

    def _conversations_set_topic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        topic = str(args.get("topic") or "")
        if len(topic) > MAX_TOPIC:
            raise _SlackError("too_long")
        channel.topic = topic
        return {"channel": channel.to_api()}

    def _conversations_set_purpose(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        purpose = str(args.get("purpose") or "")
        if len(purpose) > MAX_TOPIC:
            raise _SlackError("too_long")
        channel.purpose = purpose
        return {"channel": channel.to_api()}

    def _conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        if channel.archived:
            raise _SlackError("already_archived")
        channel.archived = True
        return {}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(args.get("channel")).to_api()}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        return {
            "members": sorted(channel.members),
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {"channel": self._channel(args.get("channel")).to_api()}
        users = _csv(args.get("users"))
        if len(users) != 1:
            # Multi-person DMs are not modelled; one user is what an incident bot needs.
            raise _SlackError("users_list_not_supplied" if not users else "not_supported")
        if not USER_ID_RE.match(users[0]):
            raise _SlackError("user_not_found")
        return {"channel": self._dm_channel(users[0]).to_api()}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        top_level = [
            dict(m)
            for m in channel.messages
            if m.get("thread_ts") in (None, m["ts"]) or m.get("reply_broadcast")
        ]
        # Slack lists history newest first.
        return {"messages": top_level[::-1], "has_more": False}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        ts = str(_require(args, "ts"))
        parent = channel.message(ts)
        if parent is None:
            raise _SlackError("thread_not_found")
        replies = [
            dict(m) for m in channel.messages if m.get("thread_ts") == ts and m is not parent
        ]
        return {"messages": [dict(parent), *replies], "has_more": False}

    # ------------------------------------------------------------------ handlers: chat

    def _check_blocks(self, blocks: Any, limit: int, error: str) -> None:
        if blocks is None:
            return
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks_format")
        if len(blocks) > limit:
            raise _SlackError(error)

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"), for_post=True)
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        if not (text or blocks or attachments):
            raise _SlackError("no_text")
        self._check_blocks(blocks, MAX_MESSAGE_BLOCKS, "invalid_blocks")
        if text is not None and len(str(text)) > MAX_TEXT:
            raise _SlackError("msg_too_long")
        message: dict[str, Any] = {
            "type": "message",
            "ts": self._new_ts(),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": text or "",
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        if message.get("thread_ts"):
            message["reply_broadcast"] = _truthy(args.get("reply_broadcast"))
            parent = channel.message(str(message["thread_ts"]))
            if parent is not None:
                parent["reply_count"] = parent.get("reply_count", 0) + 1
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        ts = str(_require(args, "ts"))
        message = channel.message(ts)
        if message is None:
            raise _SlackError("message_not_found")
        text, blocks = args.get("text"), args.get("blocks")
        if text is not None and len(str(text)) > MAX_UPDATE_TEXT:
            raise _SlackError("msg_too_long")
        self._check_blocks(blocks, MAX_MESSAGE_BLOCKS, "invalid_blocks")
        # Fields left out keep their previous value, as on Slack.
        for key in ("text", "blocks", "attachments", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {
            "channel": channel.id,
            "ts": ts,
            "text": message.get("text", ""),
            "message": dict(message),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        ts = str(_require(args, "ts"))
        message = channel.message(ts)
        if message is None:
            raise _SlackError("message_not_found")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"), for_post=True)
        user = str(_require(args, "user"))
        if not USER_ID_RE.match(user):
            raise _SlackError("user_not_found")
        if self.strict_channels and user not in channel.members:
            raise _SlackError("user_not_in_channel")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise _SlackError("no_text")
        self._check_blocks(args.get("blocks"), MAX_MESSAGE_BLOCKS, "invalid_blocks")
        message_ts = self._new_ts()
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": user,
                "text": args.get("text"),
                "blocks": args.get("blocks"),
                "thread_ts": args.get("thread_ts"),
                "message_ts": message_ts,
            }
        )
        return {"message_ts": message_ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args.get("channel"))
        ts = str(_require(args, "message_ts"))
        if channel.message(ts) is None:
            raise _SlackError("message_not_found")
        return {
            "channel": channel.id,
            "permalink": f"{TEAM_URL}archives/{channel.id}/p{ts.replace('.', '')}",
        }

    # ------------------------------------------------------------------ handlers: pins, etc.

    def _pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        ts = str(_require(args, "timestamp"))
        if channel.message(ts) is None:
            raise _SlackError("message_not_found")
        if ts in channel.pins:
            raise _SlackError("already_pinned")
        channel.pins.append(ts)
        return {}

    def _bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel_id"))
        title = str(_require(args, "title"))
        kind = str(_require(args, "type"))
        if kind == "link" and not args.get("link"):
            raise _SlackError("invalid_link")
        bookmark = {
            "id": self._new_id("Bk"),
            "channel_id": channel.id,
            "title": title,
            "link": args.get("link"),
            "emoji": args.get("emoji"),
            "type": kind,
            "date_created": self._ts_micros // 1_000_000,
            "last_updated_by_user_id": BOT_USER_ID,
        }
        channel.bookmarks.append(bookmark)
        return {"bookmark": dict(bookmark)}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(args.get("channel"))
        name = str(_require(args, "name")).strip(":")
        message = channel.message(str(_require(args, "timestamp")))
        if message is None:
            raise _SlackError("message_not_found")
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        existing = next((r for r in reactions if r["name"] == name), None)
        if existing is None:
            reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
        elif BOT_USER_ID in existing["users"]:
            raise _SlackError("already_reacted")
        else:
            existing["users"].append(BOT_USER_ID)
            existing["count"] += 1
        return {}

    # ------------------------------------------------------------------ handlers: views

    def _validate_view(self, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["bad view"]})
        blocks = view.get("blocks") or []
        problems = []
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            problems.append(
                f"[ERROR] no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"
            )
        title = view.get("title")
        title_text = title.get("text", "") if isinstance(title, dict) else ""
        if len(title_text) > MAX_VIEW_TITLE:
            problems.append(
                f"[ERROR] must be less than {MAX_VIEW_TITLE + 1} characters "
                "[json-pointer:/view/title/text]"
            )
        if problems:
            raise _SlackError("invalid_arguments", response_metadata={"messages": problems})
        return view

    def _store_view(
        self, view: dict[str, Any], view_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V", self.views)
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": "A1",
            "bot_id": BOT_ID,
            "state": {"values": {}},
            "hash": secrets.token_hex(6),
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "root_view_id": view_id,
            "previous_view_id": None,
            **view,
            **extra,
        }
        stored["id"] = view_id
        self.views[view_id] = stored
        return dict(stored)

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = str(_require(args, "trigger_id"))
        view = self._validate_view(_require(args, "view"))
        if self.single_use_triggers:
            if trigger_id in self._used_triggers:
                raise _SlackError("invalid_trigger_id")
            self._used_triggers.add(trigger_id)
        return {"view": self._store_view(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._validate_view(_require(args, "view"))
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if view_id:
            current = self.views.get(str(view_id))
        elif external_id:
            current = next(
                (v for v in self.views.values() if v.get("external_id") == external_id), None
            )
        else:
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["no view_id"]})
        if current is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != current.get("hash"):
            raise _SlackError("hash_conflict")
        keep = {"root_view_id": current["root_view_id"], "state": current["state"]}
        return {"view": self._store_view(view, current["id"], **keep)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(_require(args, "user_id"))
        view = self._validate_view(_require(args, "view"))
        previous = self.home_views.get(user_id)
        if previous is not None and args.get("hash") and args["hash"] != previous.get("hash"):
            raise _SlackError("hash_conflict")
        stored = self._store_view(view, previous["id"] if previous else None)
        self.home_views[user_id] = self.views[stored["id"]]
        return {"view": stored}

    # ------------------------------------------------------------------ handlers: files (v2)

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(_require(args, "filename"))
        try:
            length = int(_require(args, "length"))
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        file_id = self._new_id("F", self.files)
        self.files[file_id] = FakeFile(id=file_id, name=filename, length=length)
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = str(_require(args, "file"))
        file = self.files.get(file_id)
        if file is None or not file.completed:
            raise _SlackError("file_not_found")
        return {
            "file": {
                "id": file.id,
                "name": file.name,
                "title": file.title,
                "permalink": f"{TEAM_URL}files/{BOT_USER_ID}/{file.id}/{file.name}",
            }
        }

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _require(args, "files")
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and e.get("id") for e in entries
        ):
            raise _SlackError("invalid_arguments")
        files = [self.files.get(str(e["id"])) for e in entries]
        # A file never uploaded to its upload_url cannot be completed either.
        if any(f is None or f.content is None for f in files):
            raise _SlackError("file_not_found")
        channel_ref = args.get("channel_id") or next(iter(_csv(args.get("channels"))), None)
        channel = self._writable(channel_ref, for_post=True) if channel_ref else None
        out = []
        for entry, file in zip(entries, files, strict=True):
            assert file is not None
            file.title = str(entry.get("title") or file.name)
            file.channel = channel.id if channel else None
            file.initial_comment = args.get("initial_comment")
            file.thread_ts = args.get("thread_ts")
            file.completed = True
            out.append({"id": file.id, "title": file.title, "name": file.name})
        if channel is not None:
            # Sharing a file posts a message carrying it (and the initial comment).
            message: dict[str, Any] = {
                "type": "message",
                "ts": self._new_ts(),
                "user": BOT_USER_ID,
                "text": args.get("initial_comment") or "",
                "files": [f["id"] for f in out],
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            channel.messages.append(message)
        return {"files": out}


# ---------------------------------------------------------------------- request parsing


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body arguments; return (args, parse error or None)."""
    args: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return args, "invalid_json"
                if not isinstance(body, dict):
                    return args, "invalid_json"
                args.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    args[key] = value.file.read()
                else:
                    args[key] = value
    for key in JSON_FIELDS & args.keys():
        value = args[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            # Undecodable JSON stays a string; handlers answer *_format / invalid_arguments.
            with contextlib.suppress(json.JSONDecodeError):
                args[key] = json.loads(value)
    return args, None


def _token(headers: dict[str, str], args: dict[str, Any]) -> str | None:
    """Bearer header wins over a ``token`` field; the field is never kept in recorded args."""
    field_token = args.pop("token", None)
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return str(field_token) if field_token else None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
