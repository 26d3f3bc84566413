"""Does a new incident look like one already open? (Two people declaring the same outage.)"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "was",
        "we",
        "with",
    ]
)
THRESHOLD = 0.5


def words(title: str) -> set[str]:
    return {w for w in _WORD.findall(title.lower()) if w not in _STOP}


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the significant words of two titles, 0..1."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def is_similar(a: str, b: str) -> bool:
    return similarity(a, b) >= THRESHOLD
