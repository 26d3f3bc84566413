"""Does a new incident look like one already open? (Two people declaring the same outage.)"""

from __future__ import annotations

import re
from functools import lru_cache

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


@lru_cache(maxsize=4096)
def words(title: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(title.lower()) if w not in _STOP)


def jaccard(wa: frozenset[str], wb: frozenset[str]) -> float:
    """Overlap of two sets of significant words, 0..1."""
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def overlap(wa: frozenset[str], wb: frozenset[str]) -> bool:
    # Every declare compares its title with every open incident's: rule out the many that
    # share no word, or whose sizes alone keep them under the threshold, before the set maths.
    if wa.isdisjoint(wb) or min(len(wa), len(wb)) < THRESHOLD * max(len(wa), len(wb)):
        return False
    return jaccard(wa, wb) >= THRESHOLD


def is_similar(a: str, b: str) -> bool:
    return overlap(words(a), words(b))
