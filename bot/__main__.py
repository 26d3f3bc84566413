"""`python -m bot` (also `incident-bot`): run the bot, check its runbooks and templates, or
export incidents.

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
    export = sub.add_parser(
        "export", help="write incidents and their timelines as CSV or JSON (secrets redacted)"
    )
    export.add_argument("--since", help="first declare date, e.g. 2026-01-01 (required)")
    export.add_argument("--format", default="json", help="csv or json (default: json)")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.add_argument(
        "--include-private",
        action="store_true",
        help="include private incidents' titles, texts and timelines",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv()  # .env values become visible to ${NAME} substitution as well
    if args.command == "check-runbooks":
        return _check_runbooks(args.directory)
    if args.command == "check-templates":
        return _check_templates(args.directory)
    if args.command == "export":
        return _export(args)
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


def _export(args: argparse.Namespace) -> int:
    from bot import export
    from bot.settings import SettingsError, load_settings
    from storage.db import Database

    try:
        since = export.parse_since(args.since)
        fmt = export.check_format(args.format)
        export.check_output(args.output)
        settings = load_settings()
        export.check_database(settings.database_url)
    except (export.ExportError, SettingsError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2

    async def collect() -> list[dict[str, object]]:
        db = Database(settings.database_url)
        try:
            return await export.collect(
                db,
                since,
                include_private=args.include_private,
                secrets=settings.secret_values(),
            )
        finally:
            await db.close()

    try:
        records = asyncio.run(collect())
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"export: cannot read the database: {type(exc).__name__}: {first}", file=sys.stderr)
        return 2
    if args.output is None:
        export.write(records, fmt, sys.stdout, since)
    else:
        try:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                export.write(records, fmt, out, since)
        except OSError as exc:
            print(f"export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(records)} incidents to {args.output}", file=sys.stderr)
    return 0


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
