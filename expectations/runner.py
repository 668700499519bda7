"""Build the GX context once per process, validate one table's rows of one trading day against its
suite, and return an outcome a person can act on (which rule, how many rows, examples)."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from types import ModuleType
from typing import Any

SUITES_PACKAGE = "expectations.suites"


@dataclass(frozen=True)
class SuiteSpec:
    """What a suite module declares: the table it checks and whether a failure blocks downstream."""

    name: str
    table: str  # schema.table
    blocking: bool
    description: str
    day_column: str | None = "trading_day"


@dataclass
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[Any] = field(default_factory=list)
    detail: str = ""


@dataclass
class SuiteOutcome:
    spec: SuiteSpec
    success: bool
    evaluated: int
    rows: int
    failures: list[Failure]

    def markdown(self) -> str:
        if not self.failures:
            return f"All {self.evaluated} expectations passed on {self.rows} rows."
        lines = ["| rule | column | unexpected rows | examples |", "|---|---|---|---|"]
        for f in self.failures:
            ex = ", ".join(str(e) for e in f.examples[:5])
            lines.append(f"| {f.expectation} {f.detail} | {f.column or ''} | {f.unexpected_count} | {ex} |")
        return "\n".join(lines)


def suite_modules() -> list[ModuleType]:
    pkg = importlib.import_module(SUITES_PACKAGE)
    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{SUITES_PACKAGE}.{info.name}"))
    return sorted(mods, key=lambda m: m.SPEC.name)


@lru_cache(maxsize=1)
def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


@lru_cache(maxsize=4)
def _context(sqlalchemy_url: str):
    gx = _gx()
    ctx = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    # the generic SQL datasource: it also accepts Unix-socket URLs (the embedded server has no TCP host)
    ds = ctx.data_sources.add_sql("warehouse", connection_string=sqlalchemy_url)
    return ctx, ds


def validate(module: ModuleType, sqlalchemy_url: str, day: date | None) -> SuiteOutcome:
    """Validate ``module``'s suite on its table, restricted to ``day`` when the table has days."""
    gx = _gx()
    spec: SuiteSpec = module.SPEC
    ctx, ds = _context(sqlalchemy_url)
    where = f" WHERE {spec.day_column} = '{day.isoformat()}'" if day is not None and spec.day_column else ""
    query = f"SELECT * FROM {spec.table}{where}"
    asset_name = f"{spec.name}:{day.isoformat() if day else 'all'}"
    try:
        asset = ds.get_asset(asset_name)
    except LookupError:
        asset = ds.add_query_asset(asset_name, query=query)
    try:
        batch_def = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch_def = asset.add_batch_definition_whole_table("whole")
    try:
        suite = ctx.suites.get(spec.name)
    except Exception:  # not registered yet in this process
        suite = ctx.suites.add(module.build(gx))
    batch = batch_def.get_batch()
    result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    rows = _count(ds, query)
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        res = r.result or {}
        failures.append(
            Failure(
                expectation=cfg.type,
                column=cfg.kwargs.get("column") or cfg.kwargs.get("column_A"),
                unexpected_count=res.get("unexpected_count", res.get("observed_value")),
                examples=list(res.get("partial_unexpected_list") or res.get("details", {}).get("unexpected_rows", [])
                              or [])[:5],
                detail=cfg.description or "",
            )
        )
    return SuiteOutcome(spec, bool(result.success), len(result.results), rows, failures)


def _count(ds: Any, query: str) -> int:
    engine = ds.get_engine()
    import sqlalchemy as sa

    with engine.connect() as c:
        return int(c.execute(sa.text(f"SELECT count(*) FROM ({query}) q")).scalar_one())
