"""Tests of the Slack Web API fake, driven by the real slack_sdk async clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .slack_api import BOT_USER_ID, FakeSlack

pytestmark = pytest.mark.asyncio

INCIDENTS = "C0INCIDENTS"


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel(INCIDENTS, "incidents", members=("U1",))
        yield slack


@pytest_asyncio.fixture
async def client(fake: FakeSlack) -> AsyncWebClient:
    # No retry handlers: each test sees exactly one HTTP attempt per call.
    return AsyncWebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])


def error_of(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


# ---------------------------------------------------------------- basics and auth


async def test_base_url_and_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/api/"
    assert fake.port > 0
    resp = await client.auth_test()
    assert (resp["user_id"], resp["bot_id"], resp["team_id"], resp["team"]) == (
        "UBOT",
        "BBOT",
        "T1",
        "Test",
    )
    assert resp["url"].startswith("https://")
    [call] = fake.calls
    assert call.method == "auth.test"
    assert call.token == "xoxb-test"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert call.failed is None


async def test_missing_or_bad_token(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as no_token:
        await AsyncWebClient(base_url=fake.base_url, retry_handlers=[]).auth_test()
    assert error_of(no_token) == "not_authed"
    with pytest.raises(SlackApiError) as bad:
        await AsyncWebClient(token="xoxa-nope", base_url=fake.base_url).auth_test()
    assert error_of(bad) == "invalid_auth"
    assert [c.failed for c in fake.calls] == ["not_authed", "invalid_auth"]
    # A user token is accepted too.
    user_client = AsyncWebClient(token="xoxp-user", base_url=fake.base_url)
    assert (await user_client.auth_test())["ok"] is True


async def test_token_form_field_and_json_string_fields(fake: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            fake.base_url + "chat.postMessage",
            data={
                "token": "xoxb-form",
                "channel": INCIDENTS,
                "text": "hi",
                "blocks": json.dumps(blocks),
            },
        )
        body = await resp.json()
    assert body["ok"] is True, body
    [call] = fake.calls_to("chat.postMessage")
    assert call.token == "xoxb-form"
    assert "token" not in call.args
    assert call.args["blocks"] == blocks  # decoded from the form string
    assert fake.channels[INCIDENTS].messages[0]["blocks"] == blocks


async def test_unknown_methods(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.api_call("dnd.setSnooze", params={"num_minutes": 5})
    assert resp.data == {"ok": True}
    assert fake.calls_to("dnd.setSnooze")[0].args == {"num_minutes": "5"}
    fake.strict_methods = True
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("dnd.setSnooze")
    assert error_of(exc) == "unknown_method"


# ---------------------------------------------------------------- chat


async def test_post_then_update_round_trip(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "SEV1 declared"}}]
    posted = await client.chat_postMessage(channel=INCIDENTS, text="SEV1", blocks=blocks)
    ts = posted["ts"]
    assert posted["channel"] == INCIDENTS
    assert posted["message"]["text"] == "SEV1"
    assert posted["message"]["user"] == BOT_USER_ID

    updated = await client.chat_update(channel=INCIDENTS, ts=ts, text="SEV1 resolved")
    assert updated["ts"] == ts
    [stored] = fake.channels[INCIDENTS].messages
    assert stored["ts"] == ts
    assert stored["text"] == "SEV1 resolved"
    assert stored["blocks"] == blocks  # left out of the update, so kept
    assert fake.methods() == ["chat.postMessage", "chat.update"]
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == blocks

    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel=INCIDENTS, ts="1.000001", text="x")
    assert error_of(exc) == "message_not_found"


async def test_ts_strictly_increasing_and_threads(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=INCIDENTS, text="root")
    reply = await client.chat_postMessage(channel=INCIDENTS, text="r", thread_ts=parent["ts"])
    third = await client.chat_postMessage(channel=INCIDENTS, text="c")
    stamps = [parent["ts"], reply["ts"], third["ts"]]
    assert [float(s) for s in stamps] == sorted({float(s) for s in stamps})
    assert all(len(s.split(".")[1]) == 6 for s in stamps)
    assert reply["message"]["thread_ts"] == parent["ts"]
    history = await client.conversations_history(channel=INCIDENTS)
    assert [m["text"] for m in history["messages"]] == ["c", "root"]
    replies = await client.conversations_replies(channel=INCIDENTS, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["root", "r"]


async def test_post_message_channel_resolution(fake: FakeSlack, client: AsyncWebClient) -> None:
    auto = await client.chat_postMessage(channel="C0NEW", text="hello")
    assert auto["channel"] == "C0NEW"
    assert fake.channels["C0NEW"].is_private is False

    dm1 = await client.chat_postMessage(channel="U42", text="you are on call")
    dm2 = await client.chat_postMessage(channel="U42", text="again")
    assert dm1["channel"].startswith("D")
    assert dm1["channel"] == dm2["channel"]
    assert fake.channels[dm1["channel"]].user == "U42"

    by_name = await client.chat_postMessage(channel="#incidents", text="by name")
    assert by_name["channel"] == INCIDENTS

    fake.strict_channels = True
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0OTHER", text="x")
    assert error_of(exc) == "channel_not_found"
    assert "C0OTHER" not in fake.channels


# slack_sdk warns about the deliberately text-less post below.
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_limits(fake: FakeSlack, client: AsyncWebClient) -> None:
    block = {"type": "divider"}
    await client.chat_postMessage(channel=INCIDENTS, text="ok", blocks=[block] * 50)
    with pytest.raises(SlackApiError) as too_many:
        await client.chat_postMessage(channel=INCIDENTS, text="x", blocks=[block] * 51)
    assert error_of(too_many) == "invalid_blocks"
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_postMessage(channel=INCIDENTS, text="x" * 40_001)
    assert error_of(too_long) == "msg_too_long"
    with pytest.raises(SlackApiError) as no_text:
        await client.chat_postMessage(channel=INCIDENTS)
    assert error_of(no_text) == "no_text"
    assert len(fake.channels[INCIDENTS].messages) == 1
    assert [c.failed for c in fake.calls] == [None, "invalid_blocks", "msg_too_long", "no_text"]


async def test_ephemeral_and_permalink(fake: FakeSlack, client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel=INCIDENTS, user="U1", text="only you")
    assert eph["message_ts"]
    assert fake.ephemerals[0]["user"] == "U1"
    assert fake.ephemerals[0]["message_ts"] == eph["message_ts"]
    posted = await client.chat_postMessage(channel=INCIDENTS, text="x")
    link = await client.chat_getPermalink(channel=INCIDENTS, message_ts=posted["ts"])
    assert link["permalink"] == (
        f"https://test.slack.com/archives/{INCIDENTS}/p{posted['ts'].replace('.', '')}"
    )
    # getPermalink is a GET with query args; the fake still recorded them.
    assert fake.calls_to("chat.getPermalink")[0].args["message_ts"] == posted["ts"]


# ---------------------------------------------------------------- conversations


async def test_conversations_create_validation(fake: FakeSlack, client: AsyncWebClient) -> None:
    created = await client.conversations_create(name="inc-42-db_down", is_private=True)
    channel = created["channel"]
    assert channel["id"].startswith("C")
    assert channel["name"] == "inc-42-db_down"
    assert channel["is_private"] is True
    assert fake.channels[channel["id"]].is_private is True

    cases = {
        "inc-42-db_down": "name_taken",
        "Inc 42!": "invalid_name_specials",
        "a" * 81: "invalid_name_maxlength",
    }
    for name, expected in cases.items():
        with pytest.raises(SlackApiError) as exc:
            await client.conversations_create(name=name)
        assert error_of(exc) == expected, name
    assert len(fake.channels) == 2  # INCIDENTS + the one created


async def test_invite_join_topic_archive(fake: FakeSlack, client: AsyncWebClient) -> None:
    cid = (await client.conversations_create(name="inc-1"))["channel"]["id"]
    await client.conversations_invite(channel=cid, users=["U1", "U2"])
    assert fake.channels[cid].members == {BOT_USER_ID, "U1", "U2"}
    with pytest.raises(SlackApiError) as already:
        await client.conversations_invite(channel=cid, users="U1,U2")
    assert error_of(already) == "already_in_channel"
    members = await client.conversations_members(channel=cid)
    assert members["members"] == sorted([BOT_USER_ID, "U1", "U2"])

    join = await client.conversations_join(channel=cid)
    assert join["channel"]["is_member"] is True

    await client.conversations_setTopic(channel=cid, topic="DB down")
    await client.conversations_setPurpose(channel=cid, purpose="Incident 1")
    with pytest.raises(SlackApiError) as too_long:
        await client.conversations_setTopic(channel=cid, topic="t" * 251)
    assert error_of(too_long) == "too_long"
    info = await client.conversations_info(channel=cid)
    assert info["channel"]["topic"]["value"] == "DB down"
    assert info["channel"]["purpose"]["value"] == "Incident 1"

    await client.conversations_archive(channel=cid)
    assert fake.channels[cid].archived is True
    with pytest.raises(SlackApiError) as archived:
        await client.chat_postMessage(channel=cid, text="late")
    assert error_of(archived) == "is_archived"

    fake.strict_channels = True
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_invite(channel="C0MISSING", users="U1")
    assert error_of(missing) == "channel_not_found"


async def test_pins_bookmarks_reactions(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel=INCIDENTS, text="summary"))["ts"]
    await client.pins_add(channel=INCIDENTS, timestamp=ts)
    assert fake.channels[INCIDENTS].pins == [ts]
    with pytest.raises(SlackApiError) as pinned:
        await client.pins_add(channel=INCIDENTS, timestamp=ts)
    assert error_of(pinned) == "already_pinned"

    bm = await client.bookmarks_add(
        channel_id=INCIDENTS, title="Runbook", type="link", link="https://runbooks/db"
    )
    assert bm["bookmark"]["id"].startswith("Bk")
    assert fake.channels[INCIDENTS].bookmarks[0]["link"] == "https://runbooks/db"

    await client.reactions_add(channel=INCIDENTS, timestamp=ts, name="rotating_light")
    assert fake.channels[INCIDENTS].messages[0]["reactions"][0]["name"] == "rotating_light"
    with pytest.raises(SlackApiError) as exc:
        await client.reactions_add(channel=INCIDENTS, timestamp=ts, name="rotating_light")
    assert error_of(exc) == "already_reacted"


async def test_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U7"))["user"]
    assert (user["id"], user["tz"], user["tz_offset"]) == ("U7", "Europe/Berlin", 3600)
    assert user["real_name"]
    fake.users["U8"] = {"real_name": "Ada", "tz": "America/New_York", "tz_offset": -18000}
    ada = (await client.users_info(user="U8"))["user"]
    assert (ada["real_name"], ada["tz"], ada["tz_offset"]) == ("Ada", "America/New_York", -18000)
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="nobody")
    assert error_of(exc) == "user_not_found"


# ---------------------------------------------------------------- views


def modal(title: str = "Declare", blocks: int = 1) -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "divider"}] * blocks,
    }


async def test_views(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id="t1", view=modal())
    view_id = opened["view"]["id"]
    assert view_id.startswith("V")
    assert fake.views[view_id]["callback_id"] == "declare"

    updated = await client.views_update(view_id=view_id, view=modal("Declared"))
    assert updated["view"]["id"] == view_id
    assert fake.views[view_id]["title"]["text"] == "Declared"

    for bad in (modal("x" * 25), modal(blocks=101)):
        with pytest.raises(SlackApiError) as exc:
            await client.views_open(trigger_id="t2", view=bad)
        assert error_of(exc) == "invalid_arguments"
        assert exc.value.response["response_metadata"]["messages"]

    home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert fake.home_views["U1"]["id"] == home["view"]["id"]

    # Triggers are reusable by default ...
    await client.views_open(trigger_id="t1", view=modal())
    # ... and single use when asked.
    fake.single_use_triggers = True
    await client.views_open(trigger_id="t9", view=modal())
    with pytest.raises(SlackApiError) as reused:
        await client.views_push(trigger_id="t9", view=modal())
    assert error_of(reused) == "invalid_trigger_id"


# ---------------------------------------------------------------- files and response_url


async def test_files_upload_v2_stores_bytes(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.files_upload_v2(
        channel=INCIDENTS,
        content="# Postmortem\n\nÜmlaut",
        filename="x.md",
        title="Postmortem INC-1",
        initial_comment="Draft attached",
    )
    file_id = resp["file"]["id"]
    stored = fake.files[file_id]
    assert stored.content == "# Postmortem\n\nÜmlaut".encode()
    assert stored.length == len(stored.content)
    assert (stored.name, stored.title) == ("x.md", "Postmortem INC-1")
    assert (stored.channel, stored.initial_comment) == (INCIDENTS, "Draft attached")
    assert fake.methods() == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    complete = fake.calls_to("files.completeUploadExternal")[0]
    assert complete.args["files"] == [{"id": file_id, "title": "Postmortem INC-1"}]
    shared = fake.channels[INCIDENTS].messages[-1]
    assert shared["files"] == [file_id]


async def test_complete_upload_without_bytes_fails(fake: FakeSlack, client: AsyncWebClient) -> None:
    url = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert url["upload_url"] == f"{fake.url}/upload/{url['file_id']}"
    with pytest.raises(SlackApiError) as exc:
        await client.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "a"}], channel_id=INCIDENTS
        )
    assert error_of(exc) == "file_not_found"


async def test_response_url_records_body(fake: FakeSlack) -> None:
    url = fake.response_url("abc")
    assert url == f"http://127.0.0.1:{fake.port}/response/abc"
    webhook = AsyncWebhookClient(url)
    resp = await webhook.send(text="Incident declared", response_type="in_channel")
    assert (resp.status_code, resp.body) == (200, "ok")
    [posted] = await fake.wait_for_response()
    assert posted == {"text": "Incident declared", "response_type": "in_channel", "key": "abc"}
    assert fake.calls == []  # response URLs are not Web API calls

    for _ in range(4):
        await webhook.send(text="again", replace_original=True)
    sixth = await webhook.send(text="one too many")
    assert sixth.status_code == 404
    assert len(fake.responses) == 5


async def test_wait_for_response_times_out(fake: FakeSlack) -> None:
    with pytest.raises(AssertionError, match="expected 1 response_url post"):
        await fake.wait_for_response(timeout=0.05)


# ---------------------------------------------------------------- waiting helpers


async def test_wait_for_sees_late_calls(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=INCIDENTS, text="a")
        await client.chat_postMessage(channel=INCIDENTS, text="b")

    task = asyncio.create_task(later())
    calls = await fake.wait_for("chat.postMessage", count=1, where=lambda c: c.args["text"] == "b")
    assert [c.args["text"] for c in calls] == ["b"]
    await task
    await fake.wait_until(lambda: len(fake.channels[INCIDENTS].messages) == 2, timeout=1)


async def test_wait_for_timeout_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.conversations_create(name="inc-7")
    with pytest.raises(AssertionError) as exc:
        await fake.wait_for("chat.postMessage", timeout=0.05)
    message = str(exc.value)
    assert "chat.postMessage" in message
    assert "got 0" in message
    assert "conversations.create(name='inc-7')" in message
    with pytest.raises(AssertionError, match="condition not met"):
        await fake.wait_until(lambda: False, timeout=0.05)


# ---------------------------------------------------------------- fault injection


async def test_fail_429_retry_after_then_success(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=2)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel=INCIDENTS, text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "2"
    assert error_of(exc) == "ratelimited"
    assert fake.channels[INCIDENTS].messages == []  # a rejected call changes nothing

    ok = await client.chat_postMessage(channel=INCIDENTS, text="x")
    assert ok["ok"] is True
    assert [c.failed for c in fake.calls] == ["ratelimited", None]


async def test_fail_wildcard_times_and_status(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("*", "fatal_error", times=2, status=500)
    for call in (client.auth_test(), client.users_info(user="U1")):
        with pytest.raises(SlackApiError) as exc:
            await call
        assert exc.value.response.status_code == 500
        assert error_of(exc) == "fatal_error"
    assert (await client.auth_test())["ok"] is True
    # A specific-method fault only hits that method.
    fake.fail("users.info", "user_not_visible")
    assert (await client.auth_test())["ok"] is True
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="U1")
    assert error_of(exc) == "user_not_visible"


async def test_fail_every_third(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_every(3, retry_after=4)
    outcomes: list[str] = []
    for _ in range(7):
        try:
            await client.auth_test()
            outcomes.append("ok")
        except SlackApiError as err:
            assert err.response.headers["Retry-After"] == "4"
            outcomes.append(str(err.response["error"]))
    assert outcomes == ["ok", "ok", "ratelimited", "ok", "ok", "ratelimited", "ok"]
    fake.clear_faults()
    for _ in range(3):
        assert (await client.auth_test())["ok"] is True


async def test_go_down_and_come_back(fake: FakeSlack, client: AsyncWebClient) -> None:
    base_url, port = fake.base_url, fake.port
    await client.auth_test()
    await fake.go_down()
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.auth_test()
    await fake.come_back()
    assert (fake.base_url, fake.port) == (base_url, port)
    assert (await client.auth_test())["ok"] is True
    assert len(fake.calls) == 2  # the refused call never reached the fake


async def test_go_down_drops_keepalive_connections(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token="xoxb-test", base_url=fake.base_url, session=session, retry_handlers=[]
        )
        await client.auth_test()
        await fake.go_down()
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.auth_test()
        await fake.come_back()
        assert (await client.auth_test())["ok"] is True


async def test_server_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.server_errors(True)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel=INCIDENTS, text="x")
    assert exc.value.response.status_code == 500
    assert fake.calls[-1].failed == "http_500"
    assert fake.channels[INCIDENTS].messages == []
    fake.server_errors(False)
    assert (await client.chat_postMessage(channel=INCIDENTS, text="x"))["ok"] is True


async def test_latency(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.latency_for["views.open"] = 0.3
    started = time.monotonic()
    await client.auth_test()
    fast = time.monotonic() - started
    assert fast < 0.3  # only views.open is slowed

    started = time.monotonic()
    await client.views_open(trigger_id="t", view=modal())
    slow = time.monotonic() - started
    assert 0.3 <= slow < 5.0

    fake.latency = 0.2
    started = time.monotonic()
    await client.auth_test()
    assert 0.2 <= time.monotonic() - started < 5.0


async def test_reset_keeps_channels(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=INCIDENTS, text="x")
    await AsyncWebhookClient(fake.response_url()).send(text="r")
    fake.fail("*", times=5)
    fake.latency = 1.0
    fake.reset()
    assert (fake.calls, fake.responses, fake.latency) == ([], [], 0.0)
    assert len(fake.channels[INCIDENTS].messages) == 1
    assert (await client.auth_test())["ok"] is True
