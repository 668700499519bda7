"""Run-time configuration read from the environment (never at import time).

Every setting has a default that works on a fresh machine: an embedded Postgres under ``.data/pg``,
a local Parquet lake under ``.data/lake``, the simulated market as data source.

=============================  ==========================================================
``PARLAY_DATABASE_URL``        Postgres for warehouse, ledger and Dagster storage. Unset:
                               a private server started under ``.data/pg`` (embedded default).
``PARLAY_STORAGE_URL``         Object storage for Parquet history (fsspec URL: a path,
                               ``file://…`` or ``s3://bucket/prefix``). Default ``.data/lake``.
``PARLAY_HOME``                Where ``.data`` lives (default: the project root).
``PARLAY_SOURCE``              ``simulated`` (default) | ``recorded`` | ``live``.
``PARLAY_CAPTURES_DIR``        Capture files for ``recorded`` (default ``../shared/data/kalshi_ws``).
``PARLAY_KALSHI_ENV``          ``demo`` (default) | ``prod`` for ``live``.
``KALSHI_API_KEY_ID``          Kalshi key id (live, signed endpoints).
``KALSHI_PRIVATE_KEY_PATH``    PEM file of the Kalshi private key (or ``KALSHI_PRIVATE_KEY_PEM``).
``PARLAY_RISK_MAX_DRAWDOWN``   Drop of LP equity from its peak (a share in (0, 1)) beyond
                               which quoting halts with ``lp_drawdown`` (default 0.2).
=============================  ==========================================================
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from models.risk import RiskConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def project_root() -> Path:
    return PROJECT_ROOT


def data_dir() -> Path:
    """The project's private state folder (embedded Postgres, Dagster home, local lake)."""
    home = _env("PARLAY_HOME")
    base = Path(home).expanduser().resolve() if home else PROJECT_ROOT
    path = base / ".data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def configured_database_url() -> str | None:
    """``PARLAY_DATABASE_URL`` if set (None means: use the embedded default)."""
    return _env("PARLAY_DATABASE_URL")


def storage_url() -> str:
    return _env("PARLAY_STORAGE_URL") or str(data_dir() / "lake")


def captures_dir() -> Path:
    configured = _env("PARLAY_CAPTURES_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return (PROJECT_ROOT / ".." / "shared" / "data" / "kalshi_ws").resolve()


def simulator_seed() -> int:
    """PARLAY_SIM_SEED: the simulated source's seed (default 7)."""
    raw = _env("PARLAY_SIM_SEED")
    if not raw:
        return 7
    try:
        seed = int(raw)
    except ValueError:
        raise ValueError(f"PARLAY_SIM_SEED={raw!r}: expected a non-negative integer") from None
    if seed < 0:
        raise ValueError(f"PARLAY_SIM_SEED={raw!r}: expected a non-negative integer")
    return seed


def combo_flow() -> str:
    """PARLAY_COMBO_FLOW: 'simulated' draws combo trades over recorded legs' real prices; 'off' (default) none."""
    value = (_env("PARLAY_COMBO_FLOW") or "off").lower()
    if value not in ("off", "simulated"):
        raise ValueError(f"PARLAY_COMBO_FLOW={value!r}: expected off or simulated")
    return value


def source_kind() -> str:
    kind = _env("PARLAY_SOURCE") or "simulated"
    if kind not in ("simulated", "recorded", "live"):
        raise ValueError(f"PARLAY_SOURCE={kind!r}: expected simulated, recorded or live")
    return kind


def dagster_home() -> Path:
    """DAGSTER_HOME if set, else ``.data/dagster_home``."""
    configured = _env("DAGSTER_HOME")
    path = Path(configured) if configured else data_dir() / "dagster_home"
    path.mkdir(parents=True, exist_ok=True)
    return path


def risk_config() -> RiskConfig:
    """The risk rules in force: :class:`models.risk.RiskConfig`'s defaults, the drawdown limit from
    ``PARLAY_RISK_MAX_DRAWDOWN`` when set."""
    cfg = RiskConfig()
    raw = _env("PARLAY_RISK_MAX_DRAWDOWN")
    if raw is None:
        return cfg
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"PARLAY_RISK_MAX_DRAWDOWN={raw!r} is not a number") from None
    if not 0 < value < 1:
        raise ValueError(f"PARLAY_RISK_MAX_DRAWDOWN={raw!r}: expected a share in (0, 1), e.g. 0.2")
    return replace(cfg, max_drawdown=value)
