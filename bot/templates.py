"""Jinja2 templates for documents and messages: shipped in templates/, overridable with
TEMPLATES_DIR. Undefined fields are errors, so a typo fails loudly at start-up, not mid-incident."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

SHIPPED = Path(__file__).resolve().parent.parent / "templates"


class TemplateProblem(Exception):
    pass


class Templates:
    def __init__(self, override: Path | None = None) -> None:
        folders = [str(override)] if override else []
        folders.append(str(SHIPPED))
        self.env = Environment(
            loader=FileSystemLoader(folders),
            undefined=StrictUndefined,
            autoescape=False,  # Markdown and Slack text, not HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **fields: object) -> str:
        try:
            template = self.env.get_template(name)
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise TemplateProblem(f"template {name}{f':{line}' if line else ''}: {exc}") from exc
        try:
            return template.render(**fields)
        except TemplateError as exc:
            # Jinja rewrites tracebacks so template frames carry the template's file and line.
            where, line = template.filename or name, None
            trace = exc.__traceback__
            while trace is not None:
                if trace.tb_frame.f_code.co_filename == template.filename:
                    line = trace.tb_lineno
                trace = trace.tb_next
            raise TemplateProblem(f"template {where}{f':{line}' if line else ''}: {exc}") from exc
