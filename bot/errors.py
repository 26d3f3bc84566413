"""Domain errors. Their message is written for the person who caused them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class IncidentError(Exception):
    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class NotFound(IncidentError):
    pass


class NotInIncident(IncidentError):
    pass


class Conflict(IncidentError):
    """The state changed under the user (double click, two people at once)."""


class VersionConflict(Conflict):
    """The incident changed between reading and writing (a clock fired, someone else acted).
    Operations retry on it with fresh state; the user sees it only if that keeps happening."""


def retry_on_version_conflict(
    attempts: int = 5,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run the decorated operation again, from a fresh read, after a VersionConflict."""

    def decorate(operation: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(operation)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for _attempt in range(attempts - 1):
                try:
                    return await operation(*args, **kwargs)
                except VersionConflict:
                    continue
            return await operation(*args, **kwargs)

        return run

    return decorate
