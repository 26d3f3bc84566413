"""Runbooks in an incident: attaching one, pressing its steps, two-person approval.

Every state change of a run is a compare-and-set in the database (`UPDATE … WHERE state = …`),
so a double click, a retried delivery or two approvers at once change it once, and an action
runs at most once. The step's request goes out only after its run reached `running`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import timeline
from bot.clock import Clock
from bot.clocks import ClockPlanner
from bot.errors import Conflict, IncidentError, NotFound, retry_on_version_conflict
from bot.runbooks import HttpStep, Runbook, RunbookSet, StatuspageStep, Step
from bot.severity import Severity, Status
from bot.step_executor import StepExecutor
from bot.templates import Templates
from bot.text import escape, one_line, truncate
from storage import coordination, queries
from storage.db import Database
from storage.models import Incident, StepRun

log = logging.getLogger(__name__)

AWAITING, APPROVED, RUNNING = "awaiting_approval", "approved", "running"
SUCCEEDED, FAILED, DENIED, UNKNOWN = "succeeded", "failed", "denied", "unknown"
TICKED, UNTICKED = "ticked", "unticked"
MAX_REASON = 500


@dataclass(frozen=True)
class StepRef:
    incident: Incident
    runbook: Runbook
    step: Step


def _hhmm(run_at: Any) -> str:
    return run_at.strftime("%H:%M UTC") if run_at else "?"


class RunbookService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        runbooks: RunbookSet,
        executor: StepExecutor,
        approvers: list[str],
        wake_outbox: Callable[[], None],
        templates: Templates,
        template_fields: Mapping[str, object],
        planner: ClockPlanner,
        *,
        owner: str = "",
    ) -> None:
        self.db = db
        # This replica's id, written on the runs it is about to run (bot/replicas.py).
        self.owner = owner
        # Runs this replica is running now. Its other runs started before `since` and still
        # 'running' were left so (the database failed before the outcome was stored) and
        # are recovered like a dead replica's.
        self._running: set[int] = set()
        self.clock = clock
        self.runbooks = runbooks
        self.executor = executor
        self.approvers = approvers
        self.wake_outbox = wake_outbox
        self.templates = templates
        self.template_fields = template_fields
        self.planner = planner

    # ---- attaching -----------------------------------------------------------------------

    @retry_on_version_conflict()
    async def attach(self, incident_id: int, runbook_id: str, actor: str) -> Runbook:
        runbook = self.runbooks.get(runbook_id)
        if runbook is None:
            raise IncidentError(
                f"There is no runbook `{escape(runbook_id)}`. "
                f"Runbooks: {', '.join(self.runbooks.ids())}."
            )
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident INC-{incident_id}.")
            if incident.status == Status.RESOLVED.value:
                raise Conflict(f"INC-{incident_id} is already resolved.")
            if incident.runbook_id == runbook_id:
                raise Conflict(f"INC-{incident_id} already has the `{runbook_id}` runbook.")
            if runbook.private and not incident.private:
                raise IncidentError(
                    f"The `{runbook_id}` runbook is for private incidents, and INC-{incident_id} "
                    "is public (its story is in #incidents). Declare a new incident with "
                    f"`--private --runbook {runbook_id}` and work it there."
                )
            await timeline.claim(session, incident)
            incident.runbook_id = runbook_id
            incident.runbook_ts = None  # a new message for the new runbook
            session.add(incident)
            self._event(
                session,
                incident,
                actor,
                "runbook",
                f"attached the runbook *{escape(runbook.title)}* (`{runbook.id}`)",
            )
            self._enqueue(session, incident, "refresh_runbook")
            if runbook.starts_gdpr_clock and incident.breach_detected_at is None:
                # The 72 hours run from detection (as given at declare), else from declaring.
                detected = await queries.events_of_kind(session, incident_id, "detected")
                start = detected[0].at if detected else incident.declared_at
                self.planner.start_gdpr(session, incident, self.clock.now(), start)
                session.add(incident)
        self.wake_outbox()
        return runbook

    async def repost(self, incident_id: int) -> Runbook | None:
        """Post the attached runbook's message again (the old one scrolled out of sight)."""
        async with self.db.transaction() as session:
            incident = await queries.incident(session, incident_id)
            if incident is None:
                raise NotFound(f"There is no incident INC-{incident_id}.")
            runbook = self.runbooks.get(incident.runbook_id or "")
            if runbook is None or incident.status == Status.RESOLVED.value:
                return None
            incident.runbook_ts = None
            session.add(incident)
            self._enqueue(session, incident, "refresh_runbook")
        self.wake_outbox()
        return runbook

    async def resolve_step(
        self, incident_id: int, step_id: str, runbook_id: str | None = None
    ) -> StepRef:
        """The step a button or a run refers to. `runbook_id` is the runbook the button or run
        was made for: step ids repeat across runbooks, so a stale one must not match."""
        async with self.db.session() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None:
            raise NotFound(f"There is no incident INC-{incident_id}.")
        if incident.status == Status.RESOLVED.value:
            raise Conflict(f"INC-{incident_id} is resolved; its runbook is read-only now.")
        wanted = runbook_id or incident.runbook_id or ""
        runbook = self.runbooks.get(wanted) if wanted == incident.runbook_id else None
        step = runbook.step(step_id) if runbook else None
        if runbook is None or step is None:
            raise Conflict(
                "This runbook message is out of date: that runbook is no longer attached. "
                "`/incident runbook` posts the current one."
            )
        return StepRef(incident, runbook, step)

    def initial_inputs(self, ref: StepRef) -> dict[str, object]:
        """What the step's form starts with: its template rendered, else its default."""
        step = ref.step
        assert isinstance(step, HttpStep)
        values: dict[str, object] = {}
        for spec in step.inputs:
            if spec.template:
                values[spec.name] = self.templates.render(
                    f"{spec.template}.txt.j2",
                    incident={
                        "id": ref.incident.id,
                        "title": ref.incident.title,
                        "severity": ref.incident.severity,
                        "status": ref.incident.status,
                    },
                    **self.template_fields,
                ).strip()
            else:
                values[spec.name] = spec.default
        return values

    def check_inputs(self, ref: StepRef, inputs: Mapping[str, object]) -> dict[str, str]:
        """Problems with submitted inputs, by input name (empty when all is well)."""
        step = ref.step
        assert isinstance(step, HttpStep)
        problems: dict[str, str] = {}
        for spec in step.inputs:
            value = inputs.get(spec.name)
            if spec.type != "boolean" and spec.required and not str(value or "").strip():
                problems[spec.name] = f"{spec.label} is required."
            elif isinstance(value, str) and len(value) > 3000:
                problems[spec.name] = "Keep it to 3,000 characters."
        return problems

    async def check_break_glass(self, run_id: int, user: str) -> tuple[StepRun, StepRef]:
        """Whether `user` may break glass on this request now; raises with the reason if not."""
        run, ref = await self._run_for_decision(run_id)
        if user != run.requested_by:
            raise IncidentError("Only the person who asked may break glass on their request.")
        if Severity(ref.incident.severity) is not Severity.P1:
            raise IncidentError("Break glass is for P1 incidents only; this one needs approval.")
        return run, ref

    # ---- pressing a step -------------------------------------------------------------------

    async def request(
        self, ref: StepRef, actor: str, inputs: Mapping[str, object] | None = None
    ) -> StepRun:
        """Run an action now, or ask for approval when the runbook says it is dangerous."""
        step = ref.step
        if not isinstance(step, HttpStep | StatuspageStep):
            raise IncidentError(f"*{escape(step.label)}* is not something the bot runs.")
        needs_approval = isinstance(step, HttpStep) and step.needs_approval
        now = self.clock.now()
        run = StepRun(
            incident_id=ref.incident.id,  # type: ignore[arg-type]
            runbook_id=ref.runbook.id,
            step_id=step.id,
            kind=step.kind,
            state=AWAITING if needs_approval else APPROVED,
            requested_by=actor,
            requested_at=now,
            inputs=json.dumps(dict(inputs)) if inputs else None,
            owner=self.owner,
        )
        try:
            async with self.db.transaction() as session:
                session.add(run)
                await session.flush()
                if needs_approval:
                    self._event(
                        session,
                        ref.incident,
                        actor,
                        "approval",
                        f"asked for approval to run *{escape(step.label)}*",
                        {"run": run.id, "state": AWAITING},
                    )
                    self._enqueue(session, ref.incident, "post_approval", {"run": run.id})
                self._enqueue(session, ref.incident, "refresh_runbook")
        except IntegrityError:
            raise await self._busy(ref) from None
        self.wake_outbox()
        if needs_approval:
            return run
        return await self._execute(run.id, ref)  # type: ignore[arg-type]

    async def _busy(self, ref: StepRef) -> Conflict:
        async with self.db.session() as session:
            live = await queries.live_run(session, ref.incident.id, ref.step.id)  # type: ignore[arg-type]
        if live is None:
            return Conflict("Someone pressed this at the same moment; try again.")
        what = {
            AWAITING: "is waiting for approval",
            APPROVED: "is already running",
            RUNNING: "is already running",
        }[live.state]
        return Conflict(
            f"*{escape(ref.step.label)}* {what} (requested by <@{live.requested_by}> at "
            f"{_hhmm(live.requested_at)})."
        )

    @retry_on_version_conflict()
    async def tick(self, ref: StepRef, actor: str, done: bool) -> StepRun:
        """Tick (done=True) or untick a checklist item; a repeat of the same intent (a double
        click, a stale button) changes nothing. Two clicks at once: the incident's version
        lets one through; the other reads again and finds the item already ticked."""
        state = TICKED if done else UNTICKED
        async with self.db.transaction() as session:
            await timeline.claim(session, await timeline.load(session, ref.incident.id))  # type: ignore[arg-type]
            latest = (await queries.latest_runs(session, ref.incident.id)).get(ref.step.id)  # type: ignore[arg-type]
            current = latest.state if latest is not None else UNTICKED
            if current == state:
                who = (
                    f" by <@{latest.requested_by}> at {_hhmm(latest.requested_at)}"
                    if latest
                    else ""
                )
                verb = "done" if done else "not done"
                raise Conflict(f"*{escape(ref.step.label)}* is already {verb}{who}.")
            run = StepRun(
                incident_id=ref.incident.id,  # type: ignore[arg-type]
                runbook_id=ref.runbook.id,
                step_id=ref.step.id,
                kind=ref.step.kind,
                state=state,
                requested_by=actor,
                requested_at=self.clock.now(),
            )
            session.add(run)
            verb = ":ballot_box_with_check: ticked" if state == TICKED else "unticked"
            self._event(session, ref.incident, actor, "check", f"{verb} *{escape(ref.step.label)}*")
            self._enqueue(session, ref.incident, "refresh_runbook")
        self.wake_outbox()
        return run

    # ---- deciding --------------------------------------------------------------------------

    async def _run_for_decision(self, run_id: int) -> tuple[StepRun, StepRef]:
        async with self.db.session() as session:
            run = await session.get(StepRun, run_id)
        if run is None:
            raise NotFound("That approval request no longer exists.")
        if run.state != AWAITING:
            raise self._decided(run)
        ref = await self.resolve_step(run.incident_id, run.step_id, run.runbook_id)
        return run, ref

    def _decided(self, run: StepRun) -> Conflict:
        who = f"<@{run.decided_by}>" if run.decided_by else "someone"
        verb = {
            APPROVED: "approved",
            RUNNING: "approved",
            SUCCEEDED: "approved",
            FAILED: "approved",
            UNKNOWN: "approved",
            DENIED: "denied",
        }.get(run.state, run.state)
        if run.break_glass:
            verb, who = "run with break glass", f"<@{run.requested_by}>"
        return Conflict(f"Already {verb} by {who} at {_hhmm(run.decided_at)}.")

    def _check_approver(self, run: StepRun, user: str, verb: str) -> None:
        if not self.approvers:
            raise IncidentError(
                f"Nobody may {verb}: no approvers are configured (INCIDENT_APPROVERS)."
            )
        if user == run.requested_by:
            raise IncidentError(f"You asked for this; someone else must {verb} it.")
        if user not in self.approvers:
            names = ", ".join(f"<@{a}>" for a in self.approvers)
            raise IncidentError(f"Only approvers may {verb} dangerous actions: {names}.")

    async def approve(self, run_id: int, user: str) -> StepRun:
        run, ref = await self._run_for_decision(run_id)
        self._check_approver(run, user, "approve")
        await self._decide(
            run,
            ref,
            user,
            APPROVED,
            f"approved *{escape(ref.step.label)}* (asked by <@{run.requested_by}>)",
        )
        return await self._execute(run_id, ref)

    async def deny(self, run_id: int, user: str) -> StepRun:
        run, ref = await self._run_for_decision(run_id)
        self._check_approver(run, user, "deny")
        return await self._decide(
            run,
            ref,
            user,
            DENIED,
            f"denied *{escape(ref.step.label)}* (asked by <@{run.requested_by}>)",
        )

    async def break_glass(self, run_id: int, user: str, reason: str) -> StepRun:
        reason = one_line(reason)
        run, ref = await self.check_break_glass(run_id, user)
        if not reason:
            raise IncidentError("Breaking glass needs a reason.")
        await self._decide(
            run,
            ref,
            user,
            APPROVED,
            f":rotating_light: broke glass to run *{escape(ref.step.label)}* without approval. "
            f"Reason: {escape(truncate(reason, MAX_REASON))}",
            reason=truncate(reason, MAX_REASON),
            break_glass=True,
        )
        return await self._execute(run_id, ref)

    async def _decide(
        self, run: StepRun, ref: StepRef, user: str, state: str, text: str, **extra: object
    ) -> StepRun:
        now = self.clock.now()
        async with self.db.transaction() as session:
            changed = await _cas(
                session,
                run.id,
                AWAITING,
                state=state,
                decided_by=user,  # type: ignore[arg-type]
                decided_at=now,
                owner=self.owner,  # this replica runs what it approved
                **extra,
            )
            if not changed:
                fresh = await session.get(StepRun, run.id)
                raise self._decided(fresh or run)
            timeline.record(
                session,
                ref.incident,
                self.clock.now(),
                user,
                "approval",
                text,
                {"run": run.id, "state": state},
            )
            self._enqueue(session, ref.incident, "refresh_approval", {"run": run.id})
            self._enqueue(session, ref.incident, "refresh_runbook")
        self.wake_outbox()
        return await self._get(run.id)  # type: ignore[arg-type]

    # ---- running ---------------------------------------------------------------------------

    async def _execute(self, run_id: int, ref: StepRef) -> StepRun:
        self._running.add(run_id)  # before it is 'running', so recover never sees it unmarked
        try:
            return await self._run(run_id, ref)
        finally:
            self._running.discard(run_id)

    async def _run(self, run_id: int, ref: StepRef) -> StepRun:
        async with self.db.transaction() as session:
            if not await _cas(
                session,
                run_id,
                APPROVED,
                state=RUNNING,
                started_at=self.clock.now(),
                owner=self.owner,
            ):
                return await self._get(run_id)
        run = await self._get(run_id)
        step = ref.step
        assert isinstance(step, HttpStep | StatuspageStep)
        inputs = json.loads(run.inputs) if run.inputs else {}
        try:
            outcome = await self.executor.run(step, inputs)
        except Exception:
            log.exception("step %s of INC-%s crashed", step.id, ref.incident.id)
            ok, summary, status, elapsed = (
                False,
                "the bot failed while running it (logged)",
                None,
                None,
            )
        else:
            ok, summary, status, elapsed = (
                outcome.ok,
                outcome.summary,
                outcome.http_status,
                outcome.elapsed_ms,
            )
        async with self.db.transaction() as session:
            await _cas(
                session,
                run_id,
                RUNNING,
                state=SUCCEEDED if ok else FAILED,
                finished_at=self.clock.now(),
                summary=summary,
                http_status=status,
                elapsed_ms=elapsed,
            )
            mark = ":white_check_mark:" if ok else ":x:"
            verb = "ran" if ok else "ran (failed)"
            text = f"{mark} {verb} *{escape(step.label)}*: {escape(summary)}"
            timeline.record(
                session,
                ref.incident,
                self.clock.now(),
                run.requested_by,
                "action",
                text,
                {"run": run_id, "ok": ok},
            )
            self._enqueue(session, ref.incident, "refresh_runbook")
        self.wake_outbox()
        return await self._get(run_id)

    async def recover(self, since: datetime) -> int:
        """Runs a dead replica (one not seen since `since`, see bot/replicas.py) had in flight:
        their outcome is unknown, and they are not run again by itself (the action may or may
        not have happened). Runs of live replicas are theirs to finish."""
        orphan = coordination.orphaned(StepRun.owner, since)
        # Started before `since`: a run this replica starts after `_running` was read here
        # (and before the UPDATE) is not taken for a left one.
        left_by_me = and_(
            col(StepRun.owner) == self.owner,
            col(StepRun.started_at) < since,
            col(StepRun.id).not_in(list(self._running)),
        )
        count = 0
        async with self.db.transaction() as session:
            # Approved but never started: it did not run, so it can simply be pressed again.
            for run in await queries.runs_in_state(session, APPROVED, orphan):
                await _cas(
                    session,
                    run.id,  # type: ignore[arg-type]
                    APPROVED,
                    orphan,
                    state=FAILED,
                    finished_at=self.clock.now(),
                    summary="not run: the bot stopped before it started",
                )
            stopped = or_(orphan, left_by_me)
            for run in await queries.runs_in_state(session, RUNNING, stopped):
                if not await _cas(
                    session,
                    run.id,  # type: ignore[arg-type]
                    RUNNING,
                    stopped,
                    state=UNKNOWN,
                    finished_at=self.clock.now(),
                    summary="outcome unknown: the bot stopped while it ran",
                ):
                    continue
                incident = await queries.incident(session, run.incident_id)
                if incident is None:
                    continue
                runbook = self.runbooks.get(run.runbook_id)
                step = runbook.step(run.step_id) if runbook else None
                label = step.label if step else run.step_id
                text = (
                    f":grey_question: *{escape(label)}*: outcome unknown — the bot stopped "
                    "while it ran. Check before running it again."
                )
                self._event(session, incident, "bot", "action", text, {"run": run.id})
                self._announce(session, incident, text, run.requested_by)
                self._enqueue(session, incident, "refresh_runbook")
                count += 1
        if count:
            log.warning("%d runbook action(s) were interrupted; reported as outcome unknown", count)
            self.wake_outbox()
        return count

    # ---- helpers ---------------------------------------------------------------------------

    async def _get(self, run_id: int) -> StepRun:
        async with self.db.session() as session:
            run = await session.get(StepRun, run_id)
        assert run is not None
        return run

    def _event(
        self,
        session: AsyncSession,
        incident: Incident,
        actor: str,
        kind: str,
        text: str,
        data: dict[str, object] | None = None,
    ) -> None:
        timeline.add_event(session, incident, self.clock.now(), actor, kind, text, data)

    def _enqueue(
        self,
        session: AsyncSession,
        incident: Incident,
        op: str,
        payload: dict[str, object] | None = None,
    ) -> None:
        timeline.enqueue(session, incident, self.clock.now(), op, payload)

    def _announce(self, session: AsyncSession, incident: Incident, text: str, actor: str) -> None:
        line = f"`{self.clock.now():%H:%M}` <@{actor}> {text}"
        timeline.announce(session, incident, self.clock.now(), line)


async def _cas(
    session: AsyncSession,
    run_id: int,
    expected: str,
    *where: ColumnElement[bool],
    **values: object,
) -> bool:
    result = await session.exec(
        update(StepRun)  # type: ignore[call-overload]
        .where(col(StepRun.id) == run_id, col(StepRun.state) == expected, *where)
        .values(**values)
    )
    return result.rowcount == 1
