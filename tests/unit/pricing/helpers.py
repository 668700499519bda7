"""Shared builders for the pricing tests: random models and brute-force enumeration via itertools."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from models.pricing import InferenceConfig, IsingModel


def brute_force(model: IsingModel) -> tuple[np.ndarray, np.ndarray, float]:
    """(all outcomes (2ⁿ, n), their probabilities, log Z) by plain enumeration with itertools.product."""
    n = model.n
    outcomes = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    energy = np.array([
        sum(model.h[i] * x[i] for i in range(n))
        + sum(model.J[i, j] * x[i] * x[j] for i in range(n) for j in range(i + 1, n))
        for x in outcomes
    ])
    top = energy.max()
    weights = np.exp(energy - top)
    z = weights.sum()
    return outcomes, weights / z, float(top + np.log(z))


def event_mask(outcomes: np.ndarray, legs: Mapping[int, bool]) -> np.ndarray:
    mask = np.ones(outcomes.shape[0], dtype=bool)
    for i, side in legs.items():
        mask &= outcomes[:, i] == float(side)
    return mask


def random_model(
    rng: np.random.Generator,
    n: int,
    density: float = 0.5,
    scale: float = 1.0,
    field_scale: float = 1.0,
    config: InferenceConfig | None = None,
) -> IsingModel:
    J = np.triu(rng.normal(0.0, scale, (n, n)) * (rng.random((n, n)) < density), 1)
    J = J + J.T
    return IsingModel(rng.normal(0.0, field_scale, n), J, config or InferenceConfig())


def random_tree(
    rng: np.random.Generator, n: int, scale: float = 1.5, config: InferenceConfig | None = None
) -> IsingModel:
    """A random labelled tree (each node attached to an earlier one) with N(0, scale) couplings."""
    J = np.zeros((n, n))
    for child in range(1, n):
        parent = int(rng.integers(0, child))
        J[child, parent] = J[parent, child] = rng.normal(0.0, scale)
    return IsingModel(rng.normal(0.0, 1.0, n), J, config or InferenceConfig())


def random_legs(rng: np.random.Generator, n: int, k: int) -> dict[int, bool]:
    return {int(i): bool(rng.random() < 0.5) for i in rng.choice(n, size=k, replace=False)}


def frustrated_spin_glass(seed: int, n: int = 10, config: InferenceConfig | None = None) -> IsingModel:
    """Complete graph, couplings ±2 in the spin picture (±8 in J), weak random spin fields: strongly
    frustrated; synchronous undamped BP oscillates on it."""
    rng = np.random.default_rng(seed)
    K = np.triu(rng.choice([-1.0, 1.0], (n, n)) * 2.0, 1)
    K = K + K.T
    theta = rng.normal(0.0, 0.3, n)
    return IsingModel.from_spins(theta, K, config or InferenceConfig())
