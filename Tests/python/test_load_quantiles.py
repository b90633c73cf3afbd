"""The events' `load_quantiles` rule in Python (idamoe_torch.heldout.quantiles), held to the Swift one
(`LayerMetrics.quantiles`, Tests/IdaRoutingTests/LoadQuantilesEventTests.swift) by the same hand-computed
values, and to numpy's default linear interpolation."""
from __future__ import annotations

import random

import numpy as np
import pytest

from idamoe_torch.heldout import REPORTED_QUANTILES, load_quantiles, quantiles
from idamoe_torch.run_writer import round6

QS = [q for _, q in REPORTED_QUANTILES]


def test_known_load() -> None:
    # Sorted 0.05 0.1 0.15 0.3 0.4: p50 rank 2; p90 rank 3.6, 0.3 + 0.6 * 0.1; p99 rank 3.96; max 0.4
    # (the values the Swift test expects of the same load).
    got = quantiles([0.05, 0.4, 0.15, 0.1, 0.3], QS)
    assert got == pytest.approx([0.15, 0.36, 0.396, 0.4], abs=1e-15)
    assert quantiles([], QS) == [0.0, 0.0, 0.0, 0.0]
    assert quantiles([0.25], QS) == [0.25] * 4


def test_written_object_is_rounded_like_every_figure() -> None:
    # Sorted 1/6 1/3 1/2: p50 1/3, p90 1/3 + 0.8 / 6, p99 1/3 + 0.98 / 6, max 1/2 (as the Swift step test writes them).
    assert load_quantiles([1 / 3, 1 / 6, 1 / 2], round6) == {"p50": 0.333333, "p90": 0.466667, "p99": 0.496667, "max": 0.5}
    assert list(load_quantiles([0.5, 0.5], round6)) == ["p50", "p90", "p99", "max"]


def test_numpy_default_interpolation() -> None:
    rng = random.Random(3)
    for n in (1, 2, 3, 7, 16, 64, 257):
        values = [rng.random() for _ in range(n)]
        np.testing.assert_allclose(quantiles(values, QS), np.quantile(values, QS), rtol=1e-12, atol=1e-15)
