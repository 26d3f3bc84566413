"""Runbooks as data: YAML files validated by pydantic models, plus substitution and redaction."""

from bot.runbooks.loader import (
    DEFAULT_RUNBOOK_DIR,
    RunbookError,
    RunbookLoadError,
    RunbookSet,
    check_runbooks,
    load_runbooks,
)
from bot.runbooks.models import (
    PHASE_NAMES,
    CheckStep,
    HttpStep,
    LinkStep,
    Phases,
    Runbook,
    SnippetStep,
    StatuspageStep,
    Step,
    StepInput,
)
from bot.runbooks.substitute import (
    REDACTED,
    MissingSetting,
    placeholders,
    redact,
    substitute,
    substitute_obj,
)

__all__ = [
    "DEFAULT_RUNBOOK_DIR",
    "PHASE_NAMES",
    "REDACTED",
    "CheckStep",
    "HttpStep",
    "LinkStep",
    "MissingSetting",
    "Phases",
    "Runbook",
    "RunbookError",
    "RunbookLoadError",
    "RunbookSet",
    "SnippetStep",
    "StatuspageStep",
    "Step",
    "StepInput",
    "check_runbooks",
    "load_runbooks",
    "placeholders",
    "redact",
    "substitute",
    "substitute_obj",
]
