"""dbt models as assets, grouped by layer (groups ``staging``, ``intermediate``, ``marts``), tests as asset
checks; every model's materialization carries ``dagster/row_count`` and its column schema, fetched by
dagster-dbt after the build.

The trading day of the run is passed to dbt as ``--vars '{"trading_day": …}'`` for incremental
models; dbt connects to the same Postgres as the warehouse resource.
"""

import contextlib
import io
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project.dbt_project import dbt_project
from dagster_project.partitions import DAILY
from dagster_project.resources import WarehouseResource
from parlay.db.connection import params
from parlay.dbtenv import apply_dbt_env

LAYERS = ("staging", "intermediate", "marts")
OWNERS = ["team:features"]


class Translator(DagsterDbtTranslator):
    """Models are keyed by schema and name (``marts/combo_features``); sources by ``raw/<table>``, the
    keys the ingest assets materialize, so lineage runs from ingest to marts."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"].get("schema") or "analytics", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """The model's layer: its folder under ``dbt/models`` (staging, intermediate, marts)."""
        fqn = dbt_resource_props.get("fqn") or []
        layer = fqn[1] if len(fqn) > 2 else None
        return layer if layer in LAYERS else "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS


TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
# The models that read the structural layer's output (a Python asset) run in a second dbt invocation;
# everything else runs in the first. Two subprocesses per run instead of one per graph layer.
AFTER_STRUCTURE = "combo_features"


@lru_cache(maxsize=4)
def _manifest_for(dbname: str, mtime: float) -> dict[str, Any]:
    """The parsed manifest with every relation in database ``dbname``: ``dbt parse`` bakes the database it saw
    into ``relation_name``, and the row-count and column queries run against those names."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    for section in ("nodes", "sources", "unit_tests"):
        for node in manifest.get(section, {}).values():
            db = node.get("database")
            if not db or db == dbname:
                continue
            node["database"] = dbname
            name = node.get("relation_name")
            if name and name.startswith(f'"{db}".'):
                node["relation_name"] = f'"{dbname}".' + name[len(db) + 3:]
    return manifest


class _RunLog(io.TextIOBase):
    """A text stream that forwards whole lines to the run's log (dagster-dbt echoes dbt's output to stdout;
    with this it lands in the run's event log, shown in the UI, instead of the terminal of `parlay run`)."""

    def __init__(self, log: Any) -> None:
        self._log, self._buffer = log, ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._log.info(line)
        return len(text)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator[Any]:
    url = warehouse.url()
    apply_dbt_env(url)
    with warehouse.connection():  # migrations applied before dbt reads the raw schema
        pass
    day_vars = json.dumps({"trading_day": context.partition_key})
    invocation = dbt.cli(["build", "--vars", day_vars], context=context)
    # the row-count and column queries read relation names from the invocation's manifest (the parsed one)
    invocation.manifest = _manifest_for(params(url).dbname, dbt_project.manifest_path.stat().st_mtime)
    with contextlib.redirect_stdout(_RunLog(context.log)):
        yield from invocation.stream().fetch_row_counts().fetch_column_metadata()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=AFTER_STRUCTURE,
    name="dbt_features",
    partitions_def=DAILY,
    dagster_dbt_translator=TRANSLATOR,
)
def dbt_features(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Staging, intermediate and the marts that need only market data."""
    yield from _build(context, dbt, warehouse)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=AFTER_STRUCTURE,
    name="dbt_combo_features",
    partitions_def=DAILY,
    dagster_dbt_translator=TRANSLATOR,
)
def dbt_combo_features(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """Parlay features, which read the structural verdicts (marts.combo_structure)."""
    yield from _build(context, dbt, warehouse)


def with_partitioned_checks(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The dbt assets with their tests' checks partitioned like the models (dagster-dbt leaves the check specs
    unpartitioned, so a test result would attach to no trading day)."""
    attrs = assets_def.get_attributes_dict()
    attrs["check_specs_by_output_name"] = {
        name: spec._replace(partitions_def=assets_def.partitions_def)
        for name, spec in attrs["check_specs_by_output_name"].items()}
    return dg.AssetsDefinition.dagster_internal_init(**attrs)


ASSETS = [with_partitioned_checks(dbt_features), with_partitioned_checks(dbt_combo_features)]
