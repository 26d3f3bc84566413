"""The /incident command language: one registry of subcommands, a parser that never raises
anything but CommandError, and help generated from the registry so it cannot drift."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.severity import Severity, Status

MAX_TITLE = 150
MAX_NOTE = 3000
_INCIDENT_REF = re.compile(r"^INC-(\d{1,9})$", re.IGNORECASE)
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    # Acts on one incident: taken from the channel (or thread) or given as INC-<n>.
    on_incident: bool = False


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "declare",
        "declare <P1|P2|P3|P4> <title> [--runbook <id>] [--private]",
        "open an incident (no arguments: a form)",
    ),
    Subcommand(
        "status", "status <investigating|identified|monitoring|resolved>", "set the status", True
    ),
    Subcommand("severity", "severity <P1|P2|P3|P4>", "change the severity", True),
    Subcommand("note", "note <text>", "add a note to the timeline", True),
    Subcommand("commander", "commander @user", "hand over incident command", True),
    Subcommand("runbook", "runbook [<id>]", "show the runbook, or attach one", True),
    Subcommand("timeline", "timeline [<page>]", "show the timeline (only you see it)", True),
    Subcommand("resolve", "resolve", "resolve: root cause and impact in a form", True),
    Subcommand("ack", "ack", "acknowledge the page (stops the escalation clock)", True),
    Subcommand("update", "update", "post a status update (a form, prefilled)", True),
    Subcommand("clocks", "clocks", "show the running clocks and when they are due", True),
    Subcommand("notified", "notified", "record that breach victims were notified (GDPR)", True),
    Subcommand(
        "postmortem", "postmortem [done]", "show the postmortem draft, or mark it shared", True
    ),
    Subcommand("reopen", "reopen", "reopen a resolved incident (restarts its clocks)", True),
    Subcommand("summary", "summary", "post the incident's summary here", True),
    Subcommand("list", "list", "list open incidents"),
    Subcommand(
        "stats", "stats [30d|90d|1y]", "counts, MTTA/MTTR and a chart, against the period before"
    ),
    Subcommand("help", "help [<subcommand>]", "show this help"),
)
BY_NAME = {s.name: s for s in SUBCOMMANDS}


class CommandError(Exception):
    """Bad input: `message` says what was wrong, `usage` how to write it."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True)
class Command:
    name: str
    incident_ref: int | None = None
    args: dict[str, object] = field(default_factory=dict)


def usage_of(name: str) -> str:
    sub = BY_NAME[name]
    ref = " [INC-<n>]" if sub.on_incident else ""
    head, _, rest = sub.usage.partition(" ")
    return f"/incident {head}{ref}{(' ' + rest) if rest else ''}"


def help_text(name: str | None = None) -> str:
    if name and name in BY_NAME:
        sub = BY_NAME[name]
        return f"`{usage_of(name)}` — {sub.summary}"
    lines = ["*/incident* — declare and work incidents from Slack"]
    lines += [f"• `{usage_of(s.name)}` — {s.summary}" for s in SUBCOMMANDS]
    lines.append(
        "Commands marked [INC-<n>] act on the incident of the channel you type them in; "
        "elsewhere name it, e.g. `/incident note INC-4 rolled back`."
    )
    return "\n".join(lines)


def parse(text: str) -> Command:
    tokens = text.split()
    if not tokens:
        return Command("help")
    name = tokens[0].lower()
    rest = tokens[1:]
    if name not in BY_NAME:
        raise CommandError(f"Unknown subcommand `{_clip(tokens[0])}`.")
    ref: int | None = None
    if BY_NAME[name].on_incident and rest:
        match = _INCIDENT_REF.match(rest[0])
        if match:
            ref = int(match.group(1))
            rest = rest[1:]
    return Command(name, ref, _PARSERS[name](rest))


def _clip(token: str, limit: int = 30) -> str:
    token = token.replace("`", "'")
    return token if len(token) <= limit else token[:limit] + "…"


def _declare(rest: list[str]) -> dict[str, object]:
    runbook: str | None = None
    private = False
    words: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == "--private":
            private = True
        elif token == "--runbook":
            if i + 1 >= len(rest):
                raise CommandError("`--runbook` needs a runbook id.", usage_of("declare"))
            runbook = rest[i + 1].lower()
            i += 1
        elif token.startswith("--runbook="):
            runbook = token.split("=", 1)[1].lower() or None
        else:
            words.append(token)
        i += 1
    severity = Severity.parse(words[0]) if words else None
    if severity is None and words and re.fullmatch(r"[Pp]\d+", words[0]):
        raise CommandError(
            f"Unknown severity `{_clip(words[0])}`: use P1, P2, P3 or P4.", usage_of("declare")
        )
    title = " ".join(words[1:] if severity else words)
    if severity is not None and not title:
        raise CommandError("The title is empty: say what is happening.", usage_of("declare"))
    if len(title) > MAX_TITLE:
        raise CommandError(
            f"The title is {len(title)} characters; keep it to {MAX_TITLE}.", usage_of("declare")
        )
    # No severity: the form asks for it (prefilled with whatever title was typed).
    return {
        "severity": severity,
        "title": title,
        "runbook": runbook,
        "private": private,
        "form": severity is None,
    }


def _one(rest: list[str], name: str) -> str:
    if len(rest) != 1:
        raise CommandError(
            f"`{name}` takes exactly one value." if rest else f"`{name}` needs a value.",
            usage_of(name),
        )
    return rest[0]


def _status(rest: list[str]) -> dict[str, object]:
    value = _one(rest, "status")
    status = Status.parse(value)
    if status is None:
        raise CommandError(f"Unknown status `{_clip(value)}`.", usage_of("status"))
    return {"status": status}


def _severity(rest: list[str]) -> dict[str, object]:
    value = _one(rest, "severity")
    severity = Severity.parse(value)
    if severity is None:
        raise CommandError(
            f"Unknown severity `{_clip(value)}`: use P1, P2, P3 or P4.", usage_of("severity")
        )
    return {"severity": severity}


def _note(rest: list[str]) -> dict[str, object]:
    text = " ".join(rest)
    if not text:
        raise CommandError("The note is empty.", usage_of("note"))
    if len(text) > MAX_NOTE:
        raise CommandError(
            f"The note is {len(text)} characters; keep it to {MAX_NOTE}.", usage_of("note")
        )
    return {"text": text}


def _commander(rest: list[str]) -> dict[str, object]:
    value = _one(rest, "commander")
    match = _USER.match(value)
    if not match:
        raise CommandError(
            f"`{_clip(value)}` is not a Slack user: mention them, e.g. `@alex`.",
            usage_of("commander"),
        )
    return {"user": match.group(1)}


def _runbook(rest: list[str]) -> dict[str, object]:
    if len(rest) > 1:
        raise CommandError("`runbook` takes at most one runbook id.", usage_of("runbook"))
    return {"id": rest[0].lower() if rest else None}


def _timeline(rest: list[str]) -> dict[str, object]:
    if not rest:
        return {"page": 1}
    if len(rest) > 1 or not rest[0].isdigit() or int(rest[0]) < 1:
        raise CommandError("The page must be a number from 1.", usage_of("timeline"))
    return {"page": int(rest[0])}


def _none(name: str):  # noqa: ANN202 - small factory
    def parse_none(rest: list[str]) -> dict[str, object]:
        if rest:
            raise CommandError(f"`{name}` takes no arguments.", usage_of(name))
        return {}

    return parse_none


def _postmortem(rest: list[str]) -> dict[str, object]:
    if not rest:
        return {"do": "show"}
    if len(rest) == 1 and rest[0].lower() in ("done", "edit"):
        return {"do": rest[0].lower()}
    raise CommandError("`postmortem` takes nothing, `edit` or `done`.", usage_of("postmortem"))


def _stats(rest: list[str]) -> dict[str, object]:
    if not rest:
        return {"period": "30d"}
    period = rest[0].lower()
    if len(rest) > 1 or period not in ("30d", "90d", "1y"):
        raise CommandError(
            f"Unknown period `{_clip(' '.join(rest))}`: use 30d, 90d or 1y.", usage_of("stats")
        )
    return {"period": period}


def _help(rest: list[str]) -> dict[str, object]:
    return {"topic": rest[0].lower() if rest else None}


_PARSERS = {
    "declare": _declare,
    "status": _status,
    "severity": _severity,
    "note": _note,
    "commander": _commander,
    "runbook": _runbook,
    "timeline": _timeline,
    "resolve": _none("resolve"),
    "ack": _none("ack"),
    "update": _none("update"),
    "clocks": _none("clocks"),
    "notified": _none("notified"),
    "reopen": _none("reopen"),
    "summary": _none("summary"),
    "postmortem": _postmortem,
    "list": _none("list"),
    "stats": _stats,
    "help": _help,
}
