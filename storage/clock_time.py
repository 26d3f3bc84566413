"""`clock_time(column)`: a stored UTC timestamp's time of day as "HH:MM", computed by the
database. A document lists every event of a long timeline by its time of day; having the
database format it spares building, zoning and formatting a datetime per row in Python (the
larger part of reading a 50,000-row timeline)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class clock_time(FunctionElement[str]):  # noqa: N801 - reads as the SQL function it stands for
    type = String()
    inherit_cache = True
    name = "clock_time"


def _argument(element: clock_time) -> Any:
    (column,) = element.clauses.clauses
    return column


# The format goes as a bound parameter: no percent-sign escaping differs between drivers.
@compiles(clock_time, "sqlite")
def _sqlite(element: clock_time, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.strftime("%H:%M", _argument(element)), **kw)


@compiles(clock_time, "postgresql")
def _postgresql(element: clock_time, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.to_char(_argument(element), "HH24:MI"), **kw)
