"""The map-reduce pattern: word count over documents.

``map_reduce(mapper, reducer, concurrency=N)`` maps over the run input ``data`` with at
most N items at a time (each finished item is recorded in the run, so a resumed run skips
it), keeps the results in input order, then reduces them.

    python examples/map_reduce.py
"""

from __future__ import annotations

from collections import Counter

from plait import ItemCompleted, map_reduce
from plait.runtime import Event

DOCS = [
    "the quick brown fox jumps over the lazy dog",
    "the dog barks and the fox runs",
    "a quick brown dog",
    "lazy afternoons are for the lazy",
]


def count_words(text: str) -> Counter[str]:
    return Counter(text.split())


def add_counts(counts: list[Counter[str]]) -> Counter[str]:
    return sum(counts, Counter())


word_count = map_reduce(count_words, add_counts, concurrency=2, name="word_count")

if __name__ == "__main__":
    events: list[Event] = []
    totals = word_count.run({"data": DOCS}, listeners=[events.append])
    items = sum(isinstance(e, ItemCompleted) for e in events)
    print(f"{items} documents mapped, {sum(totals.values())} words counted")
    for word, n in totals.most_common(5):
        print(f"{word:<6} {n}")
