"""Load a folder of runbook YAML files, reporting every problem with its file and field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.runbooks.models import STEP_KINDS, Runbook

# The shipped runbooks: <repo>/runbooks next to the bot package.
DEFAULT_RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"
ROOT_FIELD = "(root)"
_WORD = re.compile(r"[a-z0-9]+")


class RunbookError(Exception):
    """One problem in one runbook file, located by a dotted field path (or `line N`)."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        # One line, so every error stays one line in CLI output and logs.
        self.message = " ".join(message.split())
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"

    def __repr__(self) -> str:
        return f"RunbookError({self.file!r}, {self.field!r}, {self.message!r})"


class RunbookLoadError(Exception):
    def __init__(self, errors: list[RunbookError]) -> None:
        self.errors = errors
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def _stem(word: str) -> str:
    # Crude plural folding so "webhooks" matches the keyword "webhook" (and vice versa).
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


class RunbookSet:
    """Runbooks by id. Iterates Runbook objects in id order."""

    def __init__(self, runbooks: Iterable[Runbook]) -> None:
        by_id: dict[str, Runbook] = {}
        for runbook in runbooks:
            if runbook.id in by_id:
                raise ValueError(f"duplicate runbook id {runbook.id!r}")
            by_id[runbook.id] = runbook
        self._by_id = dict(sorted(by_id.items()))

    def get(self, runbook_id: str) -> Runbook | None:
        return self._by_id.get(runbook_id)

    def __getitem__(self, runbook_id: str) -> Runbook:
        return self._by_id[runbook_id]

    def __contains__(self, runbook_id: object) -> bool:
        return runbook_id in self._by_id

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def suggest(self, title: str) -> Runbook | None:
        """The runbook with the most keywords in title; first id wins a tie; None if no hit."""
        words = {_stem(word) for word in _WORD.findall(title.lower())}
        best: Runbook | None = None
        best_score = 0
        for runbook in self:
            score = len({_stem(k) for k in runbook.keywords} & words)
            if score > best_score:
                best, best_score = runbook, score
        return best


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_error(file: str, exc: yaml.YAMLError) -> RunbookError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        field = f"line {mark.line + 1}" if mark is not None else ROOT_FIELD
        message = exc.problem or "invalid YAML"
        if exc.context:
            started = exc.context_mark
            # An unclosed bracket is found lines later; say where it was opened.
            if started is not None and mark is not None and started.line != mark.line:
                message += f" ({exc.context} opened on line {started.line + 1})"
            else:
                message += f" ({exc.context})"
        return RunbookError(file, field, message)
    return RunbookError(file, ROOT_FIELD, f"invalid YAML: {exc}")


def _field_path(error: ErrorDetails) -> str:
    parts: list[str] = []
    previous: object = None
    for part in error["loc"]:
        # Discriminated unions put the tag ("http", ...) after the list index; users never wrote it.
        if isinstance(previous, int) and part in STEP_KINDS and parts[:1] == ["phases"]:
            previous = part
            continue
        parts.append(str(part))
        previous = part
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("kind")
    at = (error.get("ctx") or {}).get("at")
    if at:  # our validators name the exact spot below the model they check
        parts.append(str(at))
    return ".".join(parts) or ROOT_FIELD


def _validation_errors(file: str, exc: ValidationError) -> list[RunbookError]:
    errors = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        errors.append(RunbookError(file, _field_path(error), message))
    return errors


def _load_file(path: Path) -> tuple[Runbook | None, list[RunbookError]]:
    file = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_error(file, exc)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RunbookError(file, ROOT_FIELD, f"cannot read file: {exc}")]
    if not isinstance(data, dict):
        found = "an empty file" if data is None else type(data).__name__
        return None, [RunbookError(file, ROOT_FIELD, f"expected a mapping, found {found}")]
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        return None, _validation_errors(file, exc)
    if runbook.id != path.stem:
        message = f"id {runbook.id!r} does not match the file name {path.name!r}"
        return None, [RunbookError(file, "id", message)]
    return runbook, []


def runbook_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_runbooks(directory: Path) -> RunbookSet:
    """Load and validate every *.yaml / *.yml file; raise RunbookLoadError listing all errors."""
    directory = Path(directory)
    files = runbook_files(directory)
    if not files:
        raise RunbookLoadError(
            [RunbookError(str(directory), ROOT_FIELD, "no runbook files found (*.yaml, *.yml)")]
        )
    errors: list[RunbookError] = []
    loaded: dict[str, tuple[Path, Runbook]] = {}
    for path in files:
        runbook, file_errors = _load_file(path)
        errors.extend(file_errors)
        if runbook is None:
            continue
        if runbook.id in loaded:
            first = loaded[runbook.id][0].name
            errors.append(
                RunbookError(str(path), "id", f"duplicate runbook id {runbook.id!r} (also {first})")
            )
            continue
        loaded[runbook.id] = (path, runbook)
    if errors:
        raise RunbookLoadError(errors)
    return RunbookSet(runbook for _, runbook in loaded.values())


def check_runbooks(directory: Path, out: TextIO) -> int:
    """CLI helper: print `ok: ...` and return 0, or print one line per error and return 1."""
    try:
        runbooks = load_runbooks(directory)
    except RunbookLoadError as exc:
        for error in exc.errors:
            print(error, file=out)
        return 1
    print(f"ok: {len(runbooks)} runbooks ({', '.join(runbooks.ids())})", file=out)
    return 0
