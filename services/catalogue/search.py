"""Chinese search over item names, aliases and keywords, without a word segmenter.

People search for what they call a thing: ``低保`` for 最低生活保障, ``五保`` for 特困人员救助供养.
Aliases and keywords carry the common names; character-order (subsequence) matching over the name
catches the abbreviations nobody listed (低保 → 最[低]生活[保]障), ranked below real matches. A county's
catalogue is a few hundred items, so scoring every one in memory costs well under a millisecond each.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_NOISE = re.compile(r"[\s()（）\[\]【】《》<>·・,，、.。:：;；'\"“”‘’!！?？/\\|_-]+")
MAX_GAP_FACTOR = 2  # a subsequence may spread over at most this many times the query's length, plus 2


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def _subsequence_span(query: str, text: str) -> int | None:
    """The length of the shortest stretch of ``text`` holding ``query``'s characters in order."""
    best: int | None = None
    for start, char in enumerate(text):
        if char != query[0]:
            continue
        position = start
        for wanted in query[1:]:
            position = text.find(wanted, position + 1)
            if position < 0:
                break
        else:
            span = position - start + 1
            best = span if best is None else min(best, span)
    return best


def _term_score(term: str, name: str, others: list[str]) -> float:
    if term == name:
        return 1000
    if term in others:
        return 950
    if name.startswith(term):
        return 900
    if term in name:
        return 800 - name.index(term)
    if any(term in other for other in others):
        return 700
    if any(len(other) >= 2 and other in term for other in [name, *others]):
        return 600  # the query says more than the alias: 申请低保 finds 低保
    if len(term) < 2:
        return 0
    limit = MAX_GAP_FACTOR * len(term) + 2
    spans = [s for s in (_subsequence_span(term, t) for t in [name, *others]) if s is not None and s <= limit]
    return 400 - 10 * (min(spans) - len(term)) if spans else 0


def score(query: str, search_text: str) -> float:
    """How well an item's ``search_text`` (name, then aliases and keywords, one a line) matches."""
    lines = [normalise(line) for line in search_text.splitlines()]
    name, others = (lines[0] if lines else ""), [line for line in lines[1:] if line]
    total = 0.0
    for term in (normalise(t) for t in query.split()):
        if not term:
            continue
        term_score = _term_score(term, name, others)
        if term_score <= 0:
            return 0
        total += term_score
    return total


def rank(query: str, candidates: Iterable[tuple[str, str]]) -> list[str]:
    """The codes of the candidates ``(code, search_text)`` that match, best first (ties by code)."""
    scored = [(score(query, text), code) for code, text in candidates]
    return [code for value, code in sorted(scored, key=lambda pair: (-pair[0], pair[1])) if value > 0]
