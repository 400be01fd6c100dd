"""Exact percentiles from kept windows: removing and adding values gives the same numbers as sorting all."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import percentiles
from metrics.percentiles import FRACTIONS, Windows, ranks, stats_of


def windows_of(values: list, width: int) -> Windows:
    """What `fetch_windows` keeps of a group, built in Python from all its values."""
    ordered = sorted(values)
    n = len(ordered)
    kept = Windows(n, sum(ordered))
    for fraction in FRACTIONS:
        low, high = ranks(n, fraction)
        start = max(0, low - width)
        kept.runs[fraction] = (start, ordered[start:min(n, high + width + 1)])
    return kept


@settings(max_examples=300, deadline=None)
@given(
    stored=st.lists(st.integers(0, 50), min_size=1, max_size=200),
    added=st.lists(st.integers(-5, 60), max_size=30),
    removed_share=st.floats(0, 0.5),
    width=st.integers(0, 40),
    seed=st.integers(0, 10**6),
)
def test_combining_windows_equals_sorting_everything(stored, added, removed_share, width, seed):
    rng = random.Random(seed)
    removed = rng.sample(stored, int(len(stored) * removed_share))
    remaining = list(stored)
    for value in removed:
        remaining.remove(value)
    expected = stats_of(remaining + added)
    combined = windows_of(stored, width).combine(removed, added)
    if combined is not None:  # a window too narrow says so; it never answers wrongly
        assert combined == expected
    if len(removed) + len(added) + 1 <= width:
        assert combined == expected


def test_wide_enough_windows_always_answer():
    rng = random.Random(3)
    stored = [rng.randint(0, 10**9) for _ in range(5000)]
    added = [rng.randint(0, 10**9) for _ in range(300)]
    removed = stored[:200]
    combined = windows_of(stored, percentiles.WINDOW).combine(removed, added)
    assert combined == stats_of(stored[200:] + added)
    assert combined[0.5] == pytest.approx(sorted(stored[200:] + added)[2549], abs=10**9)


def test_interpolation_is_percentile_cont():
    assert stats_of([1, 2, 3, 4])[0.5] == 2.5
    assert stats_of([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])[0.9] == pytest.approx(91)
    assert stats_of([7])[0.9] == 7 and stats_of([]) is None
