"""Quotes are coherent: inside the Fréchet bounds of the model's own marginals, and YES + NO = 1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import clip_to_bounds, frechet_bounds, leg_marginals, quote, quote_many
from tests.unit.pricing.helpers import random_legs, random_model


def test_frechet_bounds_values() -> None:
    assert frechet_bounds([0.7, 0.8]) == pytest.approx((0.5, 0.7))
    assert frechet_bounds([0.3, 0.4, 0.2]) == pytest.approx((0.0, 0.2))
    assert frechet_bounds([0.9]) == pytest.approx((0.9, 0.9))
    assert frechet_bounds([]) == (1.0, 1.0)
    with pytest.raises(ValueError):
        frechet_bounds([0.5, 1.2])
    with pytest.raises(ValueError):
        frechet_bounds([np.nan])


@settings(max_examples=60, deadline=None)
@given(p=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12), raw=st.floats(0.0, 1.0))
def test_bounds_are_ordered_and_clipping_lands_inside(p: list[float], raw: float) -> None:
    lower, upper = frechet_bounds(p)
    assert 0.0 <= lower <= upper <= 1.0
    c = clip_to_bounds(raw, lower, upper)
    assert lower <= c <= upper


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 30),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
    method=st.sampled_from(["auto", "exact", "bp", "bp-chain"]),
)
def test_quotes_are_coherent(seed: int, n: int, scale: float, method: str) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, n, density=min(1.0, 4.0 / n), scale=scale)
    if method == "exact" and n > model.config.exact_limit_n:
        method = "bp"
    for _ in range(5):
        legs = random_legs(rng, n, int(rng.integers(1, min(n, 10) + 1)))
        q = quote(model, legs, method, strict=False)  # type: ignore[arg-type]
        assert q.yes + q.no == 1.0
        marg = leg_marginals(model, legs, method, strict=False)  # type: ignore[arg-type]
        lower, upper = frechet_bounds(marg)
        assert (q.lower, q.upper) == (lower, upper)
        assert lower <= q.yes <= upper
        assert 0.0 <= q.no <= 1.0
        assert q.legs == tuple(sorted(legs.items()))


def test_single_leg_quote_is_the_marginal_and_quote_many_matches() -> None:
    rng = np.random.default_rng(1)
    model = random_model(rng, 6)
    m = model.marginals()
    q = quote(model, {2: False})
    assert q.yes == pytest.approx(1.0 - m[2])
    contracts = [random_legs(rng, 6, 3) for _ in range(4)]
    assert [x.yes for x in quote_many(model, contracts)] == [quote(model, c).yes for c in contracts]
