"""Reading an agent's model replies: the JSON protocol, and what is left of a reply that
``max_tokens`` cut short, that is only half JSON, or that went round in a loop.

An agent never hands raw protocol JSON on as its answer: a ``final_answer`` is read out
of whatever JSON there is (:func:`salvage_final`), text cut mid-sentence is brought
back to its last whole sentence (:func:`whole_sentences`), and a reply that repeats
itself — a small model's usual way to fail, the same sentences over and over until
``max_tokens`` — keeps only what comes before the first repeat (:func:`cut_repeats`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from plait.llm import Response, json_text

CUT_REASONS = frozenset({"length", "max_tokens"})
"""``finish_reason`` values that say ``max_tokens`` stopped the reply: OpenAI-compatible
servers and llama.cpp say ``length``, Anthropic ``max_tokens``."""

_FINAL_KEY = re.compile(r'"final_answer"\s*:\s*"')
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.S)
_CUT_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{0,3}$")
_SENTENCE_END = re.compile(r"""[.!?…]["'”’)\]*_]*(?=\s|$)""")
_LIST_MARK = re.compile(r"\s*\d+\.")
"""The ``2.`` that numbers a list's item: not the end of a sentence."""
_UNIT_END = re.compile(_SENTENCE_END.pattern + r"|\n")
_WORD = re.compile(r"\w+")
_LINE_LEAD = re.compile(r"\s*(?:\d+[.)]|[-*•])?\s*")
REPEAT_MIN_WORDS = 4
"""A sentence or line of fewer words ("Yes.", "1.", a title) may come back in good text;
one of this many or more coming back word for word is a loop."""


def is_cut(response: Response) -> bool:
    """Whether ``max_tokens`` stopped the reply before the model had finished it."""
    return response.finish_reason in CUT_REASONS


@dataclass(frozen=True, slots=True)
class Salvaged:
    """The text of a ``final_answer`` read out of broken JSON; ``whole``: its string was
    closed (only what came after it was broken)."""

    text: str
    whole: bool


def protocol_data(text: str) -> dict[str, Any] | None:
    """A JSON-protocol reply as its object, or None when it is not one JSON object."""
    try:
        data = json.loads(json_text(text))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def final_text(answer: Any) -> str:
    """A ``final_answer`` value as text (a model may give a list or an object)."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list) and all(isinstance(item, str) for item in answer):
        return "\n".join(answer)
    return json.dumps(answer)


def salvage_final(text: str) -> Salvaged | None:
    """The ``final_answer`` string in a reply that is not valid JSON — cut off inside the
    string, or with something broken after it — or None when there is none to read."""
    found = _FINAL_KEY.search(text)
    if found is None:
        return None
    body = _STRING_BODY.match(text, found.end())
    raw = body.group() if body is not None else ""
    whole = text[found.end() + len(raw) :].startswith('"')
    if not whole:
        raw = _CUT_ESCAPE.sub("", raw)
    try:
        value = json.loads(f'"{raw}"', strict=False)
    except ValueError:
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    return Salvaged(value.strip(), whole)


def whole_sentences(text: str) -> str:
    """``text`` up to the end of its last whole sentence or whole line (a list's items
    end without a full stop); "" when it has neither."""
    ends = [
        found.end()
        for found in _SENTENCE_END.finditer(text)
        if not _LIST_MARK.fullmatch(text, text.rfind("\n", 0, found.end()) + 1, found.end())
    ]
    line = text.rstrip().rfind("\n")
    end = max(ends[-1] if ends else 0, line if line > 0 else 0)
    return text[:end].rstrip()


def cut_repeats(text: str) -> str:
    """``text`` up to the first sentence or line that repeats an earlier one word for word
    (case, spacing, punctuation and list marks aside; only those of
    :data:`REPEAT_MIN_WORDS` words or more count): one copy of a loop is kept, the rest
    dropped. Text with no repeat comes back unchanged."""
    seen: set[tuple[str, ...]] = set()
    start = 0
    for end in [found.end() for found in _UNIT_END.finditer(text)] + [len(text)]:
        words = tuple(_WORD.findall(text[start:end].casefold()))
        if len(words) >= REPEAT_MIN_WORDS:
            if words in seen:
                line = text.rfind("\n", 0, start) + 1
                lead = _LINE_LEAD.fullmatch(text, line, start)  # "2. " before it on its line
                return text[: line if lead else start].rstrip()
            seen.add(words)
        start = end
    return text
