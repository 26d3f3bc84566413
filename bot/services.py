"""The running bot's domain services, built once from settings and shared by the listeners."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.business_time import BusinessCalendar
from bot.clock import Clock, SystemClock
from bot.clocks import ClockConfig, ClockPlanner, Scheduler
from bot.conversation import ConversationLog
from bot.digest import Digest
from bot.documents import Documents
from bot.followup import FollowUpService
from bot.incidents import IncidentService
from bot.mirror import SlackMirror
from bot.outbox import OutboxWorker
from bot.roles import Roles
from bot.runbook_runs import RunbookService
from bot.runbooks import DEFAULT_RUNBOOK_DIR, RunbookLoadError, RunbookSet, load_runbooks
from bot.settings import Settings, business_days, business_hours
from bot.severity import Severity
from bot.startup import StartupError
from bot.step_executor import DEFAULT_TIMEOUT, StepExecutor, allowed_hosts
from bot.templates import Templates
from storage.db import Database, safe_url

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    client: AsyncWebClient
    templates: Templates
    runbooks: RunbookSet
    incidents: IncidentService
    roles: Roles
    runs: RunbookService
    followup: FollowUpService
    conversation: ConversationLog
    documents: Documents
    outbox: OutboxWorker
    scheduler: Scheduler
    http: httpx.AsyncClient

    async def close(self) -> None:
        await self.conversation.close()
        await self.scheduler.stop()
        await self.outbox.stop()
        await self.http.aclose()
        if self.client.session is not None:
            await self.client.session.close()
        await self.db.close()


WEB_API_TIMEOUT = 10


def web_client(settings: Settings) -> AsyncWebClient:
    # No SDK retry handlers: the outbox owns retries (Retry-After, backoff), and the direct
    # calls (views.open, ephemeral replies) are only useful within seconds anyway.
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT,
        retry_handlers=[],
        # One session for every call: without it the SDK opens (and closes) a session and a
        # connection per call, a TLS handshake each with slack.com, and 10 % of the event
        # loop's time under load (py-spy). The session carries the timeout then.
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT)),
    )


async def open_services(
    settings: Settings, clock: Clock | None = None, *, outbox_poll: float = 0.5
) -> Services:
    clock = clock or SystemClock()
    runbooks = _load_runbooks(settings)
    templates = Templates(settings.templates_dir)
    problems = Documents(
        templates, runbooks, template_fields(settings), settings.incidents_channel
    ).check()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StartupError(f"invalid {problems[0]}{more}; run `python -m bot check-templates`")
    try:
        db = Database(settings.database_url)
    except Exception as exc:  # e.g. an unknown driver in the URL
        raise StartupError(f"DATABASE_URL: {type(exc).__name__}: {exc}") from exc
    try:
        await db.upgrade()
    except Exception as exc:
        await db.close()
        raise StartupError(
            f"DATABASE_URL: cannot open {safe_url(db.url)}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    log.info("database ready at %s; %d runbooks loaded", safe_url(db.url), len(runbooks))
    client = web_client(settings)
    fields = template_fields(settings)
    documents = Documents(templates, runbooks, fields, settings.incidents_channel)
    mirror = SlackMirror(
        db,
        client,
        settings.incidents_channel,
        runbooks,
        settings.incident_approvers,
        documents,
        post_interval=settings.slack_post_interval,
    )
    worker = OutboxWorker(db, clock, mirror.executors(), poll_interval=outbox_poll)
    values = settings.substitution_values()
    http = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=False)
    executor = StepExecutor(
        http,
        values,
        settings.secret_values(),
        allowed_hosts(runbooks, values),
        timeout=settings.action_timeout,
    )
    config = clock_config(settings)
    planner = ClockPlanner(config)
    roles = Roles((settings.oncall_primary, settings.oncall_backup), settings.incident_approvers)
    incidents = IncidentService(
        db,
        clock,
        incidents_channel=settings.incidents_channel,
        oncall_primary=settings.oncall_primary,
        oncall_backup=settings.oncall_backup,
        documents=documents,
        wake_outbox=worker.wake,
        runbooks=runbooks,
        planner=planner,
        roles=roles,
    )
    runs = RunbookService(
        db,
        clock,
        runbooks,
        executor,
        settings.incident_approvers,
        worker.wake,
        templates,
        fields,
        planner,
    )
    followup = FollowUpService(db, clock, planner, worker.wake, roles)
    digest = Digest(db, clock, documents, settings.digest_at, settings.postmortem_due)
    scheduler = Scheduler(
        db, clock, config, worker.wake, interval=settings.clock_interval, digest=digest
    )
    await runs.recover()
    conversation = ConversationLog(db, clock, settings.incidents_channel)
    conversation.start()
    await worker.start()
    await scheduler.start()
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        client=client,
        templates=templates,
        runbooks=runbooks,
        incidents=incidents,
        roles=roles,
        runs=runs,
        followup=followup,
        conversation=conversation,
        documents=documents,
        outbox=worker,
        scheduler=scheduler,
        http=http,
    )


def template_fields(settings: Settings) -> dict[str, object]:
    """Fields every template may use besides the incident's."""
    return {
        "product": settings.product_name,
        "status_page_url": settings.status_page_url,
        "support_email": settings.support_email,
    }


def clock_config(settings: Settings) -> ClockConfig:
    opening, closing = business_hours(settings.business_hours)
    return ClockConfig(
        oncall_primary=settings.oncall_primary,
        oncall_backup=settings.oncall_backup,
        escalate_after=settings.escalate_after,
        update_every={
            Severity.P1: settings.update_reminder_p1,
            Severity.P2: settings.update_reminder_p2,
        },
        status_page_after=settings.status_page_after,
        postmortem_reminder=settings.postmortem_reminder,
        postmortem_due=settings.postmortem_due,
        archive_after=settings.archive_after,
        calendar=BusinessCalendar(
            opening,
            closing,
            business_days(settings.business_days),
            ZoneInfo(settings.business_timezone),
        ),
    )


def runbooks_dir(settings: Settings) -> Path:
    folder = settings.runbooks_dir
    # The default `runbooks/` means the shipped folder when run from elsewhere.
    if folder == Path("runbooks") and not folder.is_dir():
        return DEFAULT_RUNBOOK_DIR
    return folder


def _load_runbooks(settings: Settings) -> RunbookSet:
    folder = runbooks_dir(settings)
    try:
        return load_runbooks(folder)
    except RunbookLoadError as exc:
        first = exc.errors[0]
        more = (
            f" (and {len(exc.errors) - 1} more; run `python -m bot check-runbooks`)"
            if len(exc.errors) > 1
            else ""
        )
        raise StartupError(f"invalid runbook {first}{more}") from None
