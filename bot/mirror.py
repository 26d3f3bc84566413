"""Outbox executors: how each queued Slack write is performed. Rendering happens here, at
delivery, from the database, so a refresh always shows the latest state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, update
from sqlmodel import col, select

from bot import timeline
from bot.documents import Documents
from bot.naming import channel_name
from bot.outbox import PENDING, REPORT_OP, SENDING, Executor, Job, PermanentError, Superseded
from bot.runbooks import HttpStep, RunbookSet
from bot.text import truncate
from bot.ui import followup as followup_ui
from bot.ui import messages
from bot.ui import runbook as runbook_ui
from storage import queries
from storage.db import Database
from storage.models import Incident, OutboxMessage, StepRun

log = logging.getLogger(__name__)
MAX_NAME_ATTEMPTS = 20
MAX_COALESCED = 20
COALESCED_TEXT = 2900


class Pacer:
    """At most one message per `interval` seconds per channel (Slack's guidance for
    chat.postMessage), so a burst does not turn into a wall of 429s."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        # Reserve the next slot under the lock, wait outside it: a slow Slack call on one
        # post does not hold up the reservations of the others.
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            slot = max(self._next.get(channel, now), now)
            self._next[channel] = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
        yield


def _error(exc: SlackApiError) -> str | None:
    data = exc.response.data
    return data.get("error") if isinstance(data, dict) else None


class SlackMirror:
    def __init__(
        self,
        db: Database,
        client: AsyncWebClient,
        incidents_channel: str,
        runbooks: RunbookSet,
        approvers: Sequence[str],
        documents: Documents,
        post_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.client = client
        self.incidents_channel = incidents_channel
        self.runbooks = runbooks
        self.approvers = approvers
        self.documents = documents
        self.pacer = Pacer(post_interval)

    def executors(self) -> Mapping[str, Executor]:
        return {
            "create_channel": self.create_channel,
            "invite": self.invite,
            "refresh_topic": self.refresh_topic,
            "refresh_root": self.refresh_root,
            "refresh_header": self.refresh_header,
            "bookmark": self.bookmark,
            "pin_header": self.pin_header,
            "post_event": self.post_event,
            "post_resolved": self.post_resolved,
            "upload_postmortem": self.upload_postmortem,
            "refresh_runbook": self.refresh_runbook,
            "post_approval": self.post_approval,
            "refresh_approval": self.refresh_approval,
            "page_dm": self.page_dm,
            "page_channel": self.page_channel,
            "post_summary": self.post_summary,
            "post_archive_note": self.post_archive_note,
            "post_update_reminder": self.post_update_reminder,
            "post_status_page_reminder": self.post_status_page_reminder,
            "post_update": self.post_update,
            "archive_channel": self.archive_channel,
            "upload_breach_notice": self.upload_breach_notice,
            "post_digest": self.post_digest,
            REPORT_OP: self.report_failure,
        }

    async def _post_message(self, **kwargs: Any) -> Any:
        """chat.postMessage; if the bot is not in a public channel it joins once and retries
        (a private channel it cannot join stays a permanent error)."""
        try:
            async with self.pacer.turn(str(kwargs.get("channel", ""))):
                return await self.client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            if _error(exc) != "not_in_channel" or str(kwargs.get("channel", "")).startswith("U"):
                raise
            log.info("not in %s; joining it to post", kwargs.get("channel"))
            await self.client.conversations_join(channel=kwargs["channel"])
            async with self.pacer.turn(str(kwargs["channel"])):
                return await self.client.chat_postMessage(**kwargs)

    async def post_message(self, **kwargs: Any) -> Any:
        """chat.postMessage, paced and joining as above, for executors kept elsewhere."""
        return await self._post_message(**kwargs)

    async def _incident(self, job: Job) -> Incident:
        async with self.db.session() as session:
            incident = await queries.incident(session, job.incident_id)  # type: ignore[arg-type]
        if incident is None:
            raise PermanentError(f"incident {job.incident_id} is gone")
        return incident

    async def _save(self, incident_id: int, **values: object) -> None:
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                return
            for name, value in values.items():
                setattr(incident, name, value)
            session.add(incident)

    async def newer_pending(self, job: Job) -> bool:
        """A later job of the same op waits on this lane: this refresh can be skipped."""
        async with self.db.session() as session:
            count = (
                await session.exec(
                    select(func.count()).where(
                        OutboxMessage.lane == job.lane,
                        OutboxMessage.op == job.op,
                        OutboxMessage.state == PENDING,
                        OutboxMessage.id > job.id,
                    )
                )
            ).one()
        return count > 0

    # ---- channel set-up ----------------------------------------------------------------

    async def create_channel(self, job: Job) -> None:
        incident = await self._incident(job)
        if incident.channel_id:
            return
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = channel_name(incident.id, incident.declared_at, incident.title, attempt)  # type: ignore[arg-type]
            try:
                response = await self.client.conversations_create(
                    name=name, is_private=incident.private
                )
            except SlackApiError as exc:
                if _error(exc) == "name_taken":
                    continue
                raise
            channel = response["channel"]
            await self._save(incident.id, channel_id=channel["id"], channel_name=channel["name"])  # type: ignore[arg-type]
            # A private incident's channel name carries its title: keep it out of the logs.
            shown = "(private)" if incident.private else f"#{channel['name']}"
            log.info("INC-%s: created channel %s (%s)", incident.id, shown, channel["id"])
            return
        raise PermanentError(f"no free channel name after {MAX_NAME_ATTEMPTS} tries")

    async def invite(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.channel_id:
            raise PermanentError("incident has no channel")
        users = [u for u in job.payload.get("users", []) if isinstance(u, str)]  # type: ignore[union-attr]
        if not users:
            return
        try:
            await self.client.conversations_invite(channel=incident.channel_id, users=users)
        except SlackApiError as exc:
            if _error(exc) not in ("already_in_channel", "cant_invite_self"):
                raise

    async def refresh_topic(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.channel_id:
            raise PermanentError("incident has no channel")
        if await self.newer_pending(job):
            raise Superseded
        await self.client.conversations_setTopic(
            channel=incident.channel_id, topic=messages.topic(incident)
        )

    async def pin_header(self, job: Job) -> None:
        # Its own job, so a failed pin is retried without posting the header twice.
        incident = await self._incident(job)
        if not incident.channel_id or not incident.header_ts:
            raise PermanentError("incident has no channel header to pin")
        try:
            await self.client.pins_add(channel=incident.channel_id, timestamp=incident.header_ts)
        except SlackApiError as exc:
            if _error(exc) != "already_pinned":
                raise

    async def bookmark(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.channel_id or not incident.root_ts:
            raise PermanentError("incident has no channel or no #incidents message")
        link = await self.client.chat_getPermalink(
            channel=self.incidents_channel, message_ts=incident.root_ts
        )
        await self.client.bookmarks_add(
            channel_id=incident.channel_id,
            title=f"INC-{incident.id} in #incidents",
            type="link",
            link=link["permalink"],
        )

    # ---- messages that show state --------------------------------------------------------

    async def refresh_root(self, job: Job) -> None:
        incident = await self._incident(job)
        text, blocks = messages.root_message(incident)
        if incident.root_ts is None:
            response = await self._post_message(
                channel=self.incidents_channel, text=text, blocks=blocks
            )
            await self._save(incident.id, root_ts=response["ts"])  # type: ignore[arg-type]
            return
        if await self.newer_pending(job):
            raise Superseded
        await self.client.chat_update(
            channel=self.incidents_channel, ts=incident.root_ts, text=text, blocks=blocks
        )

    async def refresh_header(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.channel_id:
            raise PermanentError("incident has no channel")
        text, blocks = messages.header_message(incident)
        if incident.header_ts is None:
            response = await self._post_message(
                channel=incident.channel_id, text=text, blocks=blocks
            )
            await self._save(incident.id, header_ts=response["ts"])  # type: ignore[arg-type]
            return
        if await self.newer_pending(job):
            raise Superseded
        await self.client.chat_update(
            channel=incident.channel_id, ts=incident.header_ts, text=text, blocks=blocks
        )

    # ---- timeline posts ----------------------------------------------------------------

    def _place(self, incident: Incident, to: str) -> tuple[str, str | None] | None:
        """(channel, thread_ts) for a post to the incident ("incident") or its mirror ("thread")."""
        if to == "incident" and incident.channel_id:
            return incident.channel_id, None
        if to == "incident" and timeline.has_channel(incident):
            raise PermanentError("incident channel was never created")
        if to == "thread" and incident.private:
            return None  # private incidents keep their story in their channel
        return self.incidents_channel, incident.root_ts

    async def _post(
        self, incident: Incident, to: str, text: str, blocks: list[dict[str, object]] | None = None
    ) -> None:
        place = self._place(incident, to)
        if place is None:
            return
        channel, thread_ts = place
        await self._post_message(
            channel=channel, thread_ts=thread_ts, text=truncate(text, 3000), blocks=blocks
        )

    async def post_event(self, job: Job) -> None:
        """A timeline line; later lines already queued for the same place go in the same
        message (a burst becomes one post, every event still has its row in the database)."""
        incident = await self._incident(job)
        to = str(job.payload.get("to", "incident"))
        lines, merged = [str(job.payload["text"])], []
        async with self.db.session() as session:
            later = (
                await session.exec(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.lane == job.lane,
                        OutboxMessage.state == PENDING,
                        OutboxMessage.id > job.id,
                    )
                    .order_by(col(OutboxMessage.id))
                    .limit(MAX_COALESCED)
                )
            ).all()
        size = len(lines[0])
        for row in later:
            payload = json.loads(row.payload)
            # Lines for the other place may be passed over (another channel: order there is
            # its own); any other kind of message stops the run, so it keeps its place.
            if row.op != "post_event":
                break
            if payload.get("to", "incident") != to:
                continue
            text = str(payload["text"])
            if size + len(text) + 1 > COALESCED_TEXT:
                break
            lines.append(text)
            merged.append(row.id)
            size += len(text) + 1
        await self._mark(merged, PENDING, SENDING)
        try:
            await self._post(incident, to, "\n".join(lines))
        except BaseException:
            await self._mark(merged, SENDING, PENDING)
            raise
        await self._mark(merged, SENDING, "done", note=f"sent with job {job.id}")

    async def _mark(
        self, ids: list[int | None], old: str, new: str, note: str | None = None
    ) -> None:
        if not ids:
            return
        async with self.db.transaction() as session:
            await session.exec(
                update(OutboxMessage)  # type: ignore[call-overload]
                .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.state) == old)
                .values(state=new, last_error=note)
            )

    async def post_resolved(self, job: Job) -> None:
        incident = await self._incident(job)
        text, blocks = messages.resolved_message(incident, self.documents.status_resolved(incident))
        await self._post(incident, "incident", text, blocks)  # the channel, or the P3/P4 thread

    async def post_summary(self, job: Job) -> None:
        incident = await self._incident(job)
        summary = self.documents.summary(
            incident, incident.resolved_at or incident.declared_at, incident.postmortem_url
        )
        await self._post_message(
            channel=self.incidents_channel, text=summary, blocks=messages.sections(summary)
        )

    async def upload_postmortem(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.postmortem_md:
            raise PermanentError("no postmortem stored")
        place = self._place(incident, "incident")
        assert place is not None
        channel, thread_ts = place
        response = await self.client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=incident.postmortem_md,
            filename=f"INC-{incident.id}-postmortem.md",
            title=f"INC-{incident.id} postmortem draft",
            initial_comment=messages.postmortem_posted(incident)[0],
        )
        await self._save(incident.id, postmortem_url=await self._permalink(response))  # type: ignore[arg-type]

    async def _permalink(self, upload: object) -> str | None:
        """The uploaded file's permalink (files.info), for the summary to link to."""
        files = upload.get("files") if hasattr(upload, "get") else None  # type: ignore[union-attr]
        if not files:
            return None
        try:
            info = await self.client.files_info(file=files[0]["id"])
        except SlackApiError:
            return None  # the summary then points at the channel instead
        return (info.get("file") or {}).get("permalink")

    async def upload_breach_notice(self, job: Job) -> None:
        incident = await self._incident(job)
        async with self.db.session() as session:
            runs = await queries.runs_for_incident(session, incident.id)  # type: ignore[arg-type]
        place = self._place(incident, "incident")
        assert place is not None
        await self.client.files_upload_v2(
            channel=place[0],
            thread_ts=place[1],
            content=self.documents.breach_notice(incident, runs),
            filename=f"INC-{incident.id}-breach-notice.md",
            title=f"INC-{incident.id} breach notice to users (draft)",
            initial_comment=(
                ":scales: Draft of the e-mail to affected users. GDPR: notify them by "
                f"{self.documents.incident_fields(incident, slack=True)['notify_by']}."
            ),
        )

    async def report_failure(self, job: Job) -> None:
        text = messages.delivery_failure(
            job.payload.get("incident"), str(job.payload.get("op")), job.payload.get("error")
        )
        await self._post_message(channel=self.incidents_channel, text=text)

    async def post_digest(self, job: Job) -> None:
        text = str(job.payload["text"])
        await self._post_message(
            channel=self.incidents_channel,
            text=truncate(text, 3000),
            blocks=messages.sections(text),
        )

    # ---- runbook and approvals ---------------------------------------------------------------

    async def refresh_runbook(self, job: Job) -> None:
        incident = await self._incident(job)
        runbook = self.runbooks.get(incident.runbook_id or "")
        if runbook is None:
            raise PermanentError(f"runbook {incident.runbook_id!r} is not loaded")
        place = self._place(incident, "incident")
        assert place is not None
        channel, thread_ts = place
        if incident.runbook_ts is not None and await self.newer_pending(job):
            raise Superseded
        async with self.db.session() as session:
            runs = await queries.latest_runs(session, incident.id)  # type: ignore[arg-type]
        text, blocks = runbook_ui.runbook_message(incident, runbook, runs)
        if incident.runbook_ts is None:
            response = await self._post_message(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
            )
            await self._save(incident.id, runbook_ts=response["ts"])  # type: ignore[arg-type]
            return
        await self.client.chat_update(
            channel=channel, ts=incident.runbook_ts, text=text, blocks=blocks
        )

    async def _run(self, job: Job) -> tuple[Incident, StepRun, HttpStep]:
        incident = await self._incident(job)
        async with self.db.session() as session:
            run = await session.get(StepRun, int(job.payload["run"]))  # type: ignore[call-overload]
        runbook = self.runbooks.get(run.runbook_id) if run else None
        step = runbook.step(run.step_id) if runbook and run else None
        if run is None or not isinstance(step, HttpStep):
            raise PermanentError("approval request refers to an unknown run or step")
        return incident, run, step

    async def post_approval(self, job: Job) -> None:
        incident, run, step = await self._run(job)
        if run.approval_ts:
            return
        place = self._place(incident, "incident")
        assert place is not None
        channel, thread_ts = place
        text, blocks = runbook_ui.approval_request(incident, step, run, self.approvers)
        response = await self._post_message(
            channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
        )
        async with self.db.transaction() as session:
            stored = await session.get(StepRun, run.id)
            if stored is not None:
                stored.approval_ts = response["ts"]
                session.add(stored)

    async def refresh_approval(self, job: Job) -> None:
        incident, run, step = await self._run(job)
        if not run.approval_ts:
            return  # the request never made it to Slack; the decision is announced anyway
        place = self._place(incident, "incident")
        assert place is not None
        text, blocks = runbook_ui.approval_decided(incident, step, run)
        await self.client.chat_update(
            channel=place[0], ts=run.approval_ts, text=text, blocks=blocks
        )

    # ---- clocks ---------------------------------------------------------------------------

    async def page_dm(self, job: Job) -> None:
        incident = await self._incident(job)
        user, level = str(job.payload["user"]), str(job.payload.get("level", "primary"))
        text, blocks = followup_ui.page(incident, user, level, in_dm=True)
        await self._post_message(channel=user, text=text, blocks=blocks)

    async def page_channel(self, job: Job) -> None:
        incident = await self._incident(job)
        user, level = str(job.payload["user"]), str(job.payload.get("level", "primary"))
        text, blocks = followup_ui.page(incident, user, level, in_dm=False)
        await self._post(incident, "incident", text, blocks)

    async def _invite_quietly(self, channel: str, user: str) -> None:
        try:
            await self.client.conversations_invite(channel=channel, users=[user])
        except SlackApiError as exc:
            if _error(exc) not in ("already_in_channel", "cant_invite_self"):
                raise

    async def post_update_reminder(self, job: Job) -> None:
        incident = await self._incident(job)
        text, blocks = followup_ui.update_reminder(
            incident, str(job.payload["every"]), bool(job.payload.get("late"))
        )
        await self._post(incident, "incident", text, blocks)

    async def post_status_page_reminder(self, job: Job) -> None:
        incident = await self._incident(job)
        text, blocks = followup_ui.status_page_reminder(
            incident,
            self.documents.status_outage(incident),
            str(job.payload.get("open_for", "15m")),
            bool(job.payload.get("late")),
        )
        await self._post(incident, "incident", text, blocks)

    async def post_update(self, job: Job) -> None:
        incident = await self._incident(job)
        text, blocks = followup_ui.status_update(
            incident, str(job.payload["text"]), str(job.payload["user"])
        )
        if job.payload.get("to") == "incident":
            await self._post(incident, "incident", text, blocks)
            return
        # In #incidents: a reply in the incident's thread, optionally shown in the channel too.
        await self._post_message(
            channel=self.incidents_channel,
            thread_ts=incident.root_ts,
            text=truncate(text, 3000),
            blocks=blocks,
            reply_broadcast=bool(job.payload.get("broadcast")) and incident.root_ts is not None,
        )

    async def post_archive_note(self, job: Job) -> None:
        incident = await self._incident(job)
        if incident.channel_id:
            await self._post_message(
                channel=incident.channel_id, text=followup_ui.archive_note(incident)
            )

    async def archive_channel(self, job: Job) -> None:
        incident = await self._incident(job)
        if not incident.channel_id:
            return
        try:
            await self.client.conversations_archive(channel=incident.channel_id)
        except SlackApiError as exc:
            if _error(exc) != "already_archived":
                raise
