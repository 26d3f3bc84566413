"""`python -m bot` (also `incident-bot`): run the bot, or check its runbooks.

This is the composition root: the one module in bot/ that reaches handlers/, to start them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from dotenv import load_dotenv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Incident-response bot.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    check = sub.add_parser("check-runbooks", help="validate runbook files and print each error")
    check.add_argument("directory", nargs="?", type=Path, help="default: RUNBOOKS_DIR or runbooks/")
    templates = sub.add_parser(
        "check-templates", help="render every template once and print each problem"
    )
    templates.add_argument(
        "directory", nargs="?", type=Path, help="default: TEMPLATES_DIR, over the shipped ones"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv()  # .env values become visible to ${NAME} substitution as well
    if args.command == "check-runbooks":
        return _check_runbooks(args.directory)
    if args.command == "check-templates":
        return _check_templates(args.directory)
    return _run()


def _check_runbooks(directory: Path | None) -> int:
    import os

    from bot.runbooks import DEFAULT_RUNBOOK_DIR, check_runbooks

    folder = directory or Path(os.environ.get("RUNBOOKS_DIR") or DEFAULT_RUNBOOK_DIR)
    return check_runbooks(folder, sys.stdout)


def _check_templates(directory: Path | None) -> int:
    import os

    from bot.documents import Documents
    from bot.runbooks import DEFAULT_RUNBOOK_DIR, RunbookLoadError, load_runbooks
    from bot.templates import Templates

    folder = directory or (
        Path(os.environ["TEMPLATES_DIR"]) if os.environ.get("TEMPLATES_DIR") else None
    )
    try:
        runbooks = load_runbooks(Path(os.environ.get("RUNBOOKS_DIR") or DEFAULT_RUNBOOK_DIR))
    except RunbookLoadError as exc:
        print(f"runbooks: {exc}")
        return 1
    fields = {"product": "Product", "status_page_url": None, "support_email": "x@example.com"}
    problems = Documents(Templates(folder), runbooks, fields, "C0").check()
    for problem in problems:
        print(problem)
    if not problems:
        over = f" (with {folder} over the shipped ones)" if folder else ""
        print(f"ok: every template renders{over}")
    return 1 if problems else 0


def _run() -> int:
    from bot import logs
    from bot.settings import SettingsError, load_settings
    from bot.startup import StartupError

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level, settings.secret_values())
    from handlers.server import serve

    try:
        asyncio.run(serve(settings))
    except StartupError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
