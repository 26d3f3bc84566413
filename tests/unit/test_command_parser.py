"""The /incident parser: it parses or answers with usage, whatever people type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import BY_NAME, MAX_TITLE, CommandError, help_text, parse
from bot.severity import Severity, Status

WORDS = st.sampled_from(
    [
        "declare",
        "P1",
        "p2",
        "P9",
        "note",
        "INC-3",
        "inc-12",
        "--private",
        "--runbook",
        "site-down",
        "<!channel>",
        "<@U123|bob>",
        '"quoted',
        "'",
        "status",
        "resolved",
        "timeline",
        "0",
        "-1",
        "postmortem",
        "done",
        "edit",
        "help",
        "ünïcode",
        "🔥",
        "",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=400), st.lists(WORDS, max_size=12).map(" ".join)))
def test_parser_never_raises_anything_but_command_error(text):
    try:
        command = parse(text)
    except CommandError as exc:
        assert exc.message  # says what was wrong
        return
    assert command.name in BY_NAME
    if command.name == "declare" and not command.args["form"]:
        assert isinstance(command.args["severity"], Severity)
        assert 0 < len(command.args["title"]) <= MAX_TITLE


def test_very_long_input_is_refused_with_a_reason():
    with pytest.raises(CommandError, match="keep it to 150"):
        parse("declare P1 " + "x" * 10_000)
    with pytest.raises(CommandError, match="keep it to 3000"):
        parse("note " + "y" * 3001)


@pytest.mark.parametrize(
    ("text", "name", "ref", "args"),
    [
        ("", "help", None, {}),
        (
            "declare P1 Site down",
            "declare",
            None,
            {
                "severity": Severity.P1,
                "title": "Site down",
                "runbook": None,
                "private": False,
                "form": False,
            },
        ),
        (
            "declare p2 DB slow --runbook Database-Disk --private",
            "declare",
            None,
            {
                "severity": Severity.P2,
                "title": "DB slow",
                "runbook": "database-disk",
                "private": True,
                "form": False,
            },
        ),
        ("status INC-4 identified", "status", 4, {"status": Status.IDENTIFIED}),
        ("note 5 users affected", "note", None, {"text": "5 users affected"}),
        ("commander <@U123|bob>", "commander", None, {"user": "U123"}),
        ("timeline 3", "timeline", None, {"page": 3}),
        ("postmortem edit", "postmortem", None, {"do": "edit"}),
        ("stats", "stats", None, {"period": "30d"}),
        ("stats 1Y", "stats", None, {"period": "1y"}),
    ],
)
def test_parses(text, name, ref, args):
    command = parse(text)
    assert (command.name, command.incident_ref) == (name, ref)
    for key, value in args.items():
        assert command.args[key] == value


def test_help_lists_every_subcommand_from_the_registry():
    text = help_text()
    assert all(f"/incident {name}" in text for name in BY_NAME)
    assert help_text("note") == "`/incident note [INC-<n>] <text>` — add a note to the timeline"


@pytest.mark.parametrize("text", ["stats 7d", "stats 30d 90d", "stats forever"])
def test_stats_period_must_be_one_of_three(text):
    with pytest.raises(CommandError, match="use 30d, 90d or 1y") as caught:
        parse(text)
    assert caught.value.usage == "/incident stats [30d|90d|1y]"
