"""The running bot's domain services, built once from settings and shared by the listeners."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_cards import AlertCards
from bot.alerts import AlertService
from bot.business_time import BusinessCalendar
from bot.clock import Clock, SystemClock
from bot.clocks import ClockConfig, ClockPlanner, Scheduler
from bot.conversation import ConversationLog
from bot.digest import Digest
from bot.documents import Documents
from bot.followup import FollowUpService
from bot.health_watch import HealthWatch
from bot.home import HomeService
from bot.incidents import IncidentService
from bot.mirror import SlackMirror
from bot.outbox import OutboxWorker
from bot.replicas import Presence
from bot.roles import Roles
from bot.runbook_runs import RunbookService
from bot.runbooks import DEFAULT_RUNBOOK_DIR, RunbookLoadError, RunbookSet, load_runbooks
from bot.settings import Settings, business_days, business_hours
from bot.severity import Severity
from bot.startup import StartupError
from bot.stats import StatsService
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
    alerts: AlertService
    home: HomeService
    stats: StatsService
    presence: Presence

    async def close(self) -> None:
        await self.home.stop()
        await self.conversation.close()
        await self.scheduler.stop()
        await self.outbox.stop()
        # Last: once its row is gone, other replicas take over what this one left behind.
        await self.presence.stop()
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
    auto_declare = _auto_declare_rules(settings, runbooks)
    templates = Templates(settings.templates_dir)
    problems = Documents(
        templates, runbooks, template_fields(settings), settings.incidents_channel
    ).check()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StartupError(f"invalid {problems[0]}{more}; run `python -m bot check-templates`")
    try:
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
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
    presence = Presence(db, clock, settings.replica_timeout)
    cards = AlertCards(mirror, settings.incidents_channel, runbooks)
    # Home's executors join after it is built (it needs the worker's wake); the worker looks
    # executors up at delivery.
    executors = {**mirror.executors(), **cards.executors()}
    worker = OutboxWorker(db, clock, executors, poll_interval=outbox_poll, owner=presence.id)
    home = HomeService(
        db,
        clock,
        client,
        runbooks,
        incidents_channel=settings.incidents_channel,
        approvers=settings.incident_approvers,
        postmortem_due=settings.postmortem_due,
        wake_outbox=worker.wake,
    )
    executors.update(home.executors())
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
        owner=presence.id,
    )
    followup = FollowUpService(db, clock, planner, worker.wake, roles)
    digest = Digest(db, clock, documents, settings.digest_at, settings.postmortem_due)
    alerts = AlertService(
        db,
        clock,
        incidents,
        worker.wake,
        dedup_window=settings.alert_dedup_window,
        auto_declare=auto_declare,
        auto_commander=settings.oncall_primary,
    )
    watch = _health_watch(settings, db, clock, executor, alerts)
    scheduler = Scheduler(
        db,
        clock,
        config,
        worker.wake,
        interval=settings.clock_interval,
        digest=digest,
        jobs=[watch] if watch else [],
    )
    presence.on_takeover(worker.reclaim)
    presence.on_takeover(runs.recover)
    await presence.start()
    await digest.start()
    conversation = ConversationLog(db, clock, settings.incidents_channel)
    conversation.start()
    await worker.start()
    await scheduler.start()
    await home.start(settings.clock_interval)
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
        alerts=alerts,
        home=home,
        stats=StatsService(db, clock, runbooks, settings.postmortem_due),
        presence=presence,
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


def _auto_declare_rules(settings: Settings, runbooks: RunbookSet) -> set[str]:
    """ALERT_AUTO_DECLARE entries: severities (P1-P4) and runbook ids, each checked."""
    rules = set()
    for entry in settings.alert_auto_declare:
        severity = Severity.parse(entry)
        if severity is None and entry not in runbooks:
            raise StartupError(
                f"ALERT_AUTO_DECLARE: {entry!r} is neither a severity (P1-P4) nor a runbook id "
                f"({', '.join(runbooks.ids())})"
            )
        rules.add(severity.value if severity else entry)
    return rules


def _health_watch(
    settings: Settings,
    db: Database,
    clock: Clock,
    executor: StepExecutor,
    alerts: AlertService,
) -> HealthWatch | None:
    if settings.health_watch_interval is None:
        return None
    if not executor.may_call(settings.service_url):
        # The watch shares the actions' allowed hosts; it must not report "unhealthy"
        # every interval only because it may not call the service.
        raise StartupError(
            "HEALTH_WATCH_INTERVAL is set but no runbook calls SERVICE_URL's host, so the "
            "watch may not either; add a ${SERVICE_URL} step (as site-down has) or unset it"
        )
    cookie = settings.admin_session_cookie
    return HealthWatch(
        db,
        clock,
        executor,
        alerts,
        service_url=settings.service_url,
        admin_cookie=cookie.get_secret_value() if cookie else None,
        interval=settings.health_watch_interval,
    )
