"""`${NAME}` substitution for runbook steps, and redaction of secrets from anything shown."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
INPUT_PREFIX = "input."

# ${NAME}, ${NAME:-default} (default may be empty), ${input.name} with dotted input names.
_PLACEHOLDER = re.compile(
    r"\$\{(?P<name>input\.[A-Za-z0-9_.]+|[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
)


class MissingSetting(ValueError):
    """A placeholder has no value and no default; the message names what to set."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not set")
        self.name = name


def _input_value(name: str, default: str | None, inputs: Mapping[str, object] | None) -> object:
    key = name.removeprefix(INPUT_PREFIX)
    if inputs is None or key not in inputs:
        if default is not None:
            return default
        raise MissingSetting(name)
    value = inputs[key]
    if (value is None or value == "") and default is not None:
        return default
    return value


def _as_text(value: object) -> str:
    # JSON spelling for booleans, so "?exceptAdmins=${input.x}" reads true/false, not True/False.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _resolve(
    match: re.Match[str], values: Mapping[str, str | None], inputs: Mapping[str, object] | None
) -> object:
    name, default = match["name"], match["default"]
    if name.startswith(INPUT_PREFIX):
        return _input_value(name, default, inputs)
    value = values.get(name)
    if value:  # None and "" both count as unset, so an empty env var falls back to the default
        return value
    if default is not None:
        return default
    raise MissingSetting(name)


def substitute(
    text: str, values: Mapping[str, str | None], inputs: Mapping[str, object] | None = None
) -> str:
    """Replace every `${NAME}`, `${NAME:-default}` and `${input.X}` in text.

    Raises MissingSetting for a placeholder with no value and no default. `inputs` is keyed by
    the input's name without the `input.` prefix.
    """
    return _PLACEHOLDER.sub(lambda m: _as_text(_resolve(m, values, inputs)), text)


def substitute_obj(
    obj: Any, values: Mapping[str, str | None], inputs: Mapping[str, object] | None = None
) -> Any:
    """substitute() over nested dicts/lists; dict keys are left alone.

    A string that is exactly one `${input.X}` takes the input's raw value when it is a
    bool, number or None, so JSON bodies get `false`/`3`/`null` rather than strings.
    """
    if isinstance(obj, str):
        whole = _PLACEHOLDER.fullmatch(obj)
        if whole is not None and whole["name"].startswith(INPUT_PREFIX):
            value = _resolve(whole, values, inputs)
            return value if value is None or isinstance(value, bool | int | float) else str(value)
        return substitute(obj, values, inputs)
    if isinstance(obj, Mapping):
        return {key: substitute_obj(item, values, inputs) for key, item in obj.items()}
    if isinstance(obj, list | tuple):
        return [substitute_obj(item, values, inputs) for item in obj]
    return obj


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for item in obj.values():
            yield from _strings(item)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _strings(item)


def placeholders(obj: Any, *, required_only: bool = False) -> set[str]:
    """Names referenced by `${...}` anywhere in obj (dict values, lists, strings).

    Includes `input.X` names. With required_only, keeps only settings that must be set:
    no `input.` names and no placeholders that carry a default.
    """
    names: set[str] = set()
    for text in _strings(obj):
        for match in _PLACEHOLDER.finditer(text):
            name = match["name"]
            if required_only and (name.startswith(INPUT_PREFIX) or match["default"] is not None):
                continue
            names.add(name)
    return names


def input_references(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    """(dotted location, input name) for every `${input.X}` under obj; used by validation."""
    if isinstance(obj, str):
        for match in _PLACEHOLDER.finditer(obj):
            if match["name"].startswith(INPUT_PREFIX):
                yield path, match["name"].removeprefix(INPUT_PREFIX)
    elif isinstance(obj, Mapping):
        for key, item in obj.items():
            yield from input_references(item, f"{path}.{key}")
    elif isinstance(obj, list | tuple):
        for index, item in enumerate(obj):
            yield from input_references(item, f"{path}.{index}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace each non-empty secret, raw or URL-encoded, with `[redacted]`.

    A secret that is itself part of the marker (e.g. "red") cannot be hidden by it; real
    secrets are never that short or that shape.
    """
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update((secret, quote(secret, safe=""), quote_plus(secret, safe="")))
    if not forms:
        return text
    # One pass, longest first, so a secret that contains another is replaced whole.
    pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.sub(pattern, REDACTED, text)
