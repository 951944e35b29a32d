"""Item i's values from (seed, i) alone.

Item i reads the bit stream of Philox4x64-10 (``numpy.random.Philox``) keyed by the seed, its
256-bit counter starting at i · 2⁶⁴ (words (0, i, 0, 0), low word first): items never share a
word, and drawing item i costs nothing for items 0..i−1. numpy guarantees that a bit generator's
stream stays the same from version to version (NEP 19); its Generator methods carry no such
promise, so amp turns words into values itself (distributions.py).

Each drawn value takes one word, in the order the specification lists them: first every entry of
``vary``, then every event in order, its time (if drawn) and then its values (those drawn) in the
order given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .distributions import WORDS_PER_VALUE, Distribution
from .spec import DatasetSpec

__all__ = ["ItemDraw", "item_words", "draw_item", "draw_items"]


def item_words(seed: int, item: int, count: int) -> list[int]:
    """The first `count` 64-bit words of item `item`'s stream."""
    bits = np.random.Philox(key=int(seed), counter=int(item) << 64)
    return [int(w) for w in bits.random_raw(int(count))]


@dataclass
class ItemDraw:
    """One item: ``params`` {"node.param": value}; ``events`` [(time, {key: value})] in spec order."""

    params: dict[str, float]
    events: list[tuple[float, dict[str, float]]]


def _slots(spec: DatasetSpec) -> int:
    n = len(spec.vary)
    for time, values in spec.checked_events():
        n += isinstance(time, Distribution) + sum(isinstance(v, Distribution) for v in values.values())
    return n


def draw_item(spec: DatasetSpec, item: int) -> ItemDraw:
    if not 0 <= int(item) < spec.count:
        raise IndexError(f"item {item} is outside the dataset's 0..{spec.count - 1}")
    words = item_words(spec.seed, item, WORDS_PER_VALUE * _slots(spec))
    position = 0

    def take(dist: Distribution) -> float:
        nonlocal position
        value = dist.draw(words[position])
        position += WORDS_PER_VALUE
        return value

    params = {}
    for key, (dist, integer) in spec.drawn_parameters().items():
        value = take(dist)
        params[key] = float(np.rint(value)) if integer else value
    events = []
    for time, values in spec.checked_events():
        t = take(time) if isinstance(time, Distribution) else time
        events.append((t, {k: take(v) if isinstance(v, Distribution) else v for k, v in values.items()}))
    return ItemDraw(params, events)


def draw_items(spec: DatasetSpec, start: int, stop: int) -> list[ItemDraw]:
    return [draw_item(spec, i) for i in range(int(start), int(stop))]
