"""The ensemble's ML member: a CatBoost classifier of "every leg of the parlay settles on its side".

Features (:data:`FEATURES`) come from ``marts.combo_features``-like rows — one per parlay observation — and,
when known at that time, the Ising price:

* shape: ``n_legs``, ``n_clusters``, ``n_no_legs``;
* prices: ``independence_price`` (Π p_leg) and its log, the Fréchet bounds and their width, mean / min /
  max leg probability, ``ising_price`` and ``ising_excess`` (Ising − independence; NaN when unknown);
* dependence: ``covariance_sum`` (Σ_{i<j} s_i s_j ρ_ij σ_i σ_j) and ``independence_stat`` (max Fisher |z|);
* regime flags as 0/1 (NaN unknown): ``in_play``, ``near_expiry``, ``high_vol``, ``stale_leg``.

Training (:func:`train`) is deterministic: fixed ``random_seed``, ``thread_count=2``, no files written.
Too little data — fewer than ``min_rows`` rows or fewer than ``min_class_rows`` of either class — gives an
*untrained* classifier carrying the reason; the ensemble then drops the member and says why.

Serialization: :meth:`ParlayClassifier.to_bytes` writes ``b"PARLAYCB1\\n"``, a JSON header line (trained,
reason, features, parameters, metrics) and the CatBoost model in its binary ``cbm`` format.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier

__all__ = [
    "FEATURES",
    "CatBoostConfig",
    "ParlayClassifier",
    "parlay_features",
    "train",
]

FEATURES: tuple[str, ...] = (
    "n_legs",
    "n_clusters",
    "n_no_legs",
    "independence_price",
    "log_independence_price",
    "frechet_lower",
    "frechet_upper",
    "frechet_width",
    "mean_leg_probability",
    "min_leg_probability",
    "max_leg_probability",
    "covariance_sum",
    "independence_stat",
    "in_play",
    "near_expiry",
    "high_vol",
    "stale_leg",
    "ising_price",
    "ising_excess",
)
_MAGIC = b"PARLAYCB1\n"


@dataclass(frozen=True)
class CatBoostConfig:
    iterations: int = 300
    depth: int = 4
    learning_rate: float = 0.05
    l2_leaf_reg: float = 3.0
    random_seed: int = 0
    thread_count: int = 2
    min_rows: int = 30
    min_class_rows: int = 5

    def params(self) -> dict[str, object]:
        return {
            "iterations": self.iterations,
            "depth": self.depth,
            "learning_rate": self.learning_rate,
            "l2_leaf_reg": self.l2_leaf_reg,
            "random_seed": self.random_seed,
            "thread_count": self.thread_count,
            "loss_function": "Logloss",
            "allow_writing_files": False,
            "verbose": False,
        }


def _flag(value: object) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return math.nan
    return 1.0 if bool(value) else 0.0


def _num(value: object) -> float:
    if value is None or value is pd.NA:
        return math.nan
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return x


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value)  # type: ignore[call-overload]


def _row_features(r: Mapping[str, object]) -> dict[str, float]:
    probs = np.array([_num(p) for p in _list(r.get("leg_probabilities"))], dtype=float)
    legs = [leg for leg in _list(r.get("legs")) if isinstance(leg, Mapping)]
    n_legs = _num(r.get("n_legs"))
    if not np.isfinite(n_legs):
        n_legs = float(len(probs) or len(legs))
    n_clusters = _num(r.get("n_clusters"))
    if not np.isfinite(n_clusters) and legs:
        n_clusters = float(len({leg.get("cluster_id") for leg in legs}))
    n_no = _num(r.get("n_no_legs"))
    if not np.isfinite(n_no) and legs:
        n_no = float(sum(1 for leg in legs if leg.get("side") == "no"))
    priced = probs.size > 0 and bool(np.all(np.isfinite(probs)))
    ind = _num(r.get("independence_price"))
    if not np.isfinite(ind) and priced:
        ind = float(np.prod(probs))
    lower, upper = _num(r.get("frechet_lower")), _num(r.get("frechet_upper"))
    if priced and not np.isfinite(lower):
        lower = max(0.0, float(probs.sum()) - (probs.size - 1))
    if priced and not np.isfinite(upper):
        upper = float(probs.min())
    ising = _num(r.get("ising_price"))
    return {
        "n_legs": n_legs,
        "n_clusters": n_clusters,
        "n_no_legs": n_no,
        "independence_price": ind,
        "log_independence_price": math.log(max(ind, 1e-12)) if np.isfinite(ind) else math.nan,
        "frechet_lower": lower,
        "frechet_upper": upper,
        "frechet_width": upper - lower,
        "mean_leg_probability": float(probs.mean()) if priced else math.nan,
        "min_leg_probability": float(probs.min()) if priced else math.nan,
        "max_leg_probability": float(probs.max()) if priced else math.nan,
        "covariance_sum": _num(r.get("covariance_sum")),
        "independence_stat": _num(r.get("independence_stat")),
        "in_play": _flag(r.get("in_play")),
        "near_expiry": _flag(r.get("near_expiry")),
        "high_vol": _flag(r.get("high_vol")),
        "stale_leg": _flag(r.get("stale_leg")),
        "ising_price": ising,
        "ising_excess": ising - ind,
    }


def parlay_features(frame: pd.DataFrame | Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """The :data:`FEATURES` of each row (a float frame, NaN where unknown), in row order.

    Rows are ``marts.combo_features``-like: n_legs, n_clusters, legs (json list with side, cluster_id),
    leg_probabilities, independence_price, frechet_lower/upper, covariance_sum, independence_stat,
    in_play, near_expiry, high_vol, stale_leg, optionally n_no_legs and ising_price. Missing prices are
    derived from leg_probabilities."""
    records = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else list(frame)
    out = pd.DataFrame([_row_features(r) for r in records], columns=list(FEATURES), dtype=float)
    if isinstance(frame, pd.DataFrame):
        out.index = frame.index
    return out


@dataclass(frozen=True, eq=False)
class ParlayClassifier:
    """A trained (or explicitly untrained) classifier; ``metrics`` hold training counts and in-sample
    log loss / Brier score."""

    trained: bool
    reason: str | None
    features: tuple[str, ...] = FEATURES
    params: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, object] = field(default_factory=dict)
    model: CatBoostClassifier | None = field(default=None, repr=False)

    def predict_proba(self, frame: pd.DataFrame | Sequence[Mapping[str, object]]) -> np.ndarray:
        """P(the parlay wins) per row. Raises RuntimeError when untrained."""
        if not self.trained or self.model is None:
            raise RuntimeError(f"CatBoost member is untrained: {self.reason}")
        x = frame if isinstance(frame, pd.DataFrame) and list(frame.columns) == list(self.features) \
            else parlay_features(frame)[list(self.features)]
        return np.asarray(self.model.predict_proba(x.to_numpy(dtype=float))[:, 1], dtype=float)

    def header(self) -> dict[str, object]:
        return {"trained": self.trained, "reason": self.reason, "features": list(self.features),
                "params": dict(self.params), "metrics": dict(self.metrics)}

    def to_bytes(self) -> bytes:
        blob = b""
        if self.trained and self.model is not None:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.cbm")
                self.model.save_model(path, format="cbm")
                with open(path, "rb") as fh:
                    blob = fh.read()
        head = json.dumps(self.header(), sort_keys=True).encode()
        return _MAGIC + head + b"\n" + blob

    @classmethod
    def from_bytes(cls, data: bytes) -> ParlayClassifier:
        if not data.startswith(_MAGIC):
            raise ValueError("not a serialized ParlayClassifier")
        rest = data[len(_MAGIC):]
        head_raw, _, blob = rest.partition(b"\n")
        head = json.loads(head_raw)
        model = None
        if head["trained"]:
            model = CatBoostClassifier()
            model.load_model(blob=blob)
        return cls(bool(head["trained"]), head["reason"], tuple(head["features"]), head["params"],
                   head["metrics"], model)


def untrained(reason: str, config: CatBoostConfig | None = None, **metrics: object) -> ParlayClassifier:
    return ParlayClassifier(False, reason, FEATURES, (config or CatBoostConfig()).params(), dict(metrics))


def train(
    frame: pd.DataFrame | Sequence[Mapping[str, object]],
    labels: Sequence[bool] | np.ndarray | pd.Series,
    config: CatBoostConfig | None = None,
) -> ParlayClassifier:
    """Fit the classifier on settled parlays (label: every leg settled on its side)."""
    cfg = config or CatBoostConfig()
    x = parlay_features(frame)
    y = np.asarray(labels, dtype=float).ravel()
    if y.size != len(x):
        raise ValueError(f"{len(x)} rows but {y.size} labels")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep].astype(int)
    n, pos = int(y.size), int(y.sum())
    counts = {"n_rows": n, "n_positive": pos}
    if n < cfg.min_rows:
        return untrained(f"only {n} settled parlays (need {cfg.min_rows})", cfg, **counts)
    if min(pos, n - pos) < cfg.min_class_rows:
        return untrained(f"{pos} wins and {n - pos} losses (need {cfg.min_class_rows} of each)", cfg, **counts)
    model = CatBoostClassifier(**cfg.params())  # type: ignore[arg-type]
    model.fit(x.to_numpy(dtype=float), y)
    p = np.clip(model.predict_proba(x.to_numpy(dtype=float))[:, 1], 1e-12, 1 - 1e-12)
    metrics = {
        **counts,
        "train_log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "train_brier": float(np.mean((p - y) ** 2)),
        "config": asdict(cfg),
    }
    return ParlayClassifier(True, None, FEATURES, cfg.params(), metrics, model)
