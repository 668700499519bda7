"""Resources: the warehouse (Postgres), the market-data source, the Parquet lake, the Kalshi API.

Every field is optional; an unset field falls back, at run time, to the environment variable named
in :mod:`parlay.config` and then to the embedded default. Secrets are never stored in config.
"""


import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import Field

from parlay import config
from parlay.db.connection import connect, redact, resolve_database_url
from parlay.db.migrate import migrate
from parlay.sources.base import MarketSource

_MIGRATED: set[str] = set()


class WarehouseResource(dg.ConfigurableResource):
    """The project's Postgres (raw, quarantine, dbt schemas, ledger). Migrates on first use."""

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset: PARLAY_DATABASE_URL, else the embedded server"
    )

    def url(self) -> str:
        return resolve_database_url(self.database_url)

    def describe(self) -> str:
        return redact(self.url())

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        url = self.url()
        conn = connect(url)
        try:
            if url not in _MIGRATED:
                migrate(conn)
                conn.commit()
                _MIGRATED.add(url)
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()


class MarketSourceResource(dg.ConfigurableResource):
    """Which market data the ingest assets read: simulated (default), recorded captures, or live Kalshi."""

    kind: str | None = Field(default=None, description="simulated | recorded | live; unset: PARLAY_SOURCE")
    captures: str | None = Field(
        default=None,
        description="capture files/folders for 'recorded', separated by os.pathsep; unset: PARLAY_CAPTURES_DIR",
    )
    seed: int | None = Field(default=None, description="simulator seed; unset: PARLAY_SIM_SEED, else 7")
    live_series: str = Field(default="KXNBAGAME", description="comma-separated series tickers for 'live'")
    combo_flow: str | None = Field(
        default=None, description="'recorded' only: 'simulated' draws combo trades over the captured legs' real "
                                  "prices (captures hold no combos), 'off' none; unset: PARLAY_COMBO_FLOW, else off")

    def resolved_kind(self) -> str:
        return self.kind or config.source_kind()

    def resolved_seed(self) -> int:
        return self.seed if self.seed is not None else config.simulator_seed()

    def resolved_combo_flow(self) -> str:
        return self.combo_flow or config.combo_flow()

    def capture_paths(self) -> list[Path]:
        raw = self.captures
        if raw:
            return [Path(p) for p in raw.split(os.pathsep) if p]
        return [config.captures_dir()]

    def build(self) -> MarketSource:
        kind = self.resolved_kind()
        if kind == "recorded":
            from models.simulator.combo_flow import ComboFlowConfig
            from parlay.sources.recorded import RecordedSource

            flow = ComboFlowConfig(seed=self.resolved_seed()) if self.resolved_combo_flow() == "simulated" else None
            return RecordedSource(self.capture_paths(), combo_flow=flow)
        if kind == "simulated":
            from models.simulator.config import profile_config
            from parlay.sources.simulated import SimulatedSource

            # the day's size from PARLAY_SIM_PROFILE (paper by default, the paper's scale; small: 20–40 markets a game)
            return SimulatedSource(dataclasses.replace(profile_config(os.environ.get("PARLAY_SIM_PROFILE")),
                                                       seed=self.resolved_seed()))
        if kind == "live":
            from parlay.kalshi.client import KalshiClient
            from parlay.sources.live import LiveSource

            series = tuple(s.strip() for s in self.live_series.split(",") if s.strip())
            return LiveSource(KalshiClient.from_env(), series)
        raise ValueError(f"unknown source kind {kind!r}: expected simulated, recorded or live")


class LakeResource(dg.ConfigurableResource):
    """Object storage for Parquet history (fsspec: a local folder by default, s3://… by configuration)."""

    storage_url: str | None = Field(default=None, description="fsspec URL; unset: PARLAY_STORAGE_URL or .data/lake")

    def url(self) -> str:
        return self.storage_url or config.storage_url()


class ExecutionResource(dg.ConfigurableResource):
    """Where hedge orders go: ``paper`` (default; fills simulated against the current book with slippage),
    ``demo`` (Kalshi demo API) or ``prod`` (needs PARLAY_ALLOW_PROD_TRADING=1 and configured limits)."""

    venue_name: str | None = Field(default=None, description="paper | demo | prod; unset: PARLAY_EXECUTION_VENUE")
    hedge_ratio: float = Field(default=0.35, description="share of each leg's delta to hedge (0.30–0.40)")

    def venue(self, book_source: object = None):  # type: ignore[no-untyped-def]
        from parlay.execution import venue_from_env

        env = dict(os.environ)
        if self.venue_name:
            env["PARLAY_EXECUTION_VENUE"] = self.venue_name
        return venue_from_env(book_source, env)  # type: ignore[arg-type]
