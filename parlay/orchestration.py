"""Running the pipeline through Dagster from the CLI, with the instance stored in the same Postgres."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from parlay import config
from parlay.db.connection import connect, redact, resolve_database_url, sqlalchemy_url
from parlay.db.migrate import migrate
from parlay.dbtenv import apply_dbt_env
from parlay.sources.base import EXCHANGE_TZ

DAGSTER_YAML = """\
# Written by parlay: Dagster's runs, event logs and schedules live in Postgres (schema "dagster").
storage:
  postgres:
    postgres_url:
      env: PARLAY_DAGSTER_STORAGE_URL
telemetry:
  enabled: false
nux:
  enabled: false
"""


def prepare_environment(database_url: str | None = None) -> str:
    """Resolve the database (starting the embedded one if needed), migrate it, and point Dagster's
    instance at it. Sets the environment child processes (dagster, dbt) inherit. Returns the URL."""
    url = resolve_database_url(database_url)
    with connect(url) as conn:
        migrate(conn)
    os.environ["PARLAY_DATABASE_URL"] = url
    apply_dbt_env(url)
    home = config.dagster_home()
    yaml_path = home / "dagster.yaml"
    if not yaml_path.exists() or yaml_path.read_text() != DAGSTER_YAML:
        yaml_path.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["PARLAY_DAGSTER_STORAGE_URL"] = sqlalchemy_url(url, schema="dagster")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return url


def default_day(source: str) -> date:
    """Simulated: yesterday (the last complete trading day); live: today."""
    today = datetime.now(tz=EXCHANGE_TZ).date()
    return today if source == "live" else today - timedelta(days=1)


@dataclass
class DayOutcome:
    day: date
    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # "asset:check (blocking)"
    passed_checks: list[str] = field(default_factory=list)
    not_materialized: list[str] = field(default_factory=list)
    metadata: dict[str, dict] = field(default_factory=dict)


def _collect(out: DayOutcome, result) -> None:  # type: ignore[no-untyped-def]
    for mat in result.get_asset_materialization_events():
        m = mat.event_specific_data.materialization  # type: ignore[union-attr]
        key = m.asset_key.to_user_string()
        if m.partition and m.partition != out.day.isoformat():  # a cluster fit: partition = the cluster
            key = f"{key}[{m.partition}]"
        out.materialized.append(key)
        out.metadata[key] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    for ev in result.get_step_failure_events():
        err = ev.event_specific_data.error  # type: ignore[union-attr]
        msg = err.message.strip().splitlines()[-1] if err else ""
        out.failed_steps.append(f"{ev.step_key}: {msg}")
    for ev in result.get_asset_check_evaluations():
        name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
        if ev.passed:
            out.passed_checks.append(name)
        else:
            tag = "blocking" if getattr(ev, "blocking", False) else "warning"
            out.failed_checks.append(f"{name} ({tag})")
    if not result.success:
        out.success = False


def run_main_job(
    source: str,
    days: Sequence[date],
    captures: Sequence[Path] = (),
    log: Callable[[str], None] = print,
    instance: object | None = None,
    exclude_groups: Sequence[str] = (),
) -> list[DayOutcome]:
    """Materialize the whole asset graph once per trading day (in process, instance in Postgres unless
    ``instance`` — a DagsterInstance — is given).

    Three phases per day, because one Ising fit per game cluster is its own partition (the cluster):
    (1) the daily assets up to the structural layer and the cluster registry; (2) one fit per cluster;
    (3) the daily assets downstream of the fits (ensemble, risk, hedging, ledger, monitoring). A failed
    blocking check stops the day where it fails: nothing downstream runs.
    """
    os.environ["PARLAY_SOURCE"] = source
    if captures:
        os.environ["PARLAY_CAPTURES_DIR"] = os.pathsep.join(str(Path(p).resolve()) for p in captures)
    import dagster as dg

    from dagster_project.definitions import FINISH_JOB, FIT_JOB, PREPARE_JOB, defs
    from dagster_project.partitions import TRADING_DAY_TAG, register_clusters, register_days

    prepare = defs.resolve_job_def(PREPARE_JOB)
    fit_job = defs.resolve_job_def(FIT_JOB)
    finish = defs.resolve_job_def(FINISH_JOB)
    graph = defs.resolve_asset_graph()

    def selection(job) -> list | None:  # type: ignore[no-untyped-def]
        if not exclude_groups:
            return None
        return [k for k in job.asset_layer.executable_asset_keys if graph.get(k).group_name not in exclude_groups]
    all_keys = {k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys}
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    outcomes = []
    from contextlib import nullcontext

    with (nullcontext(instance) if instance is not None else dg.DagsterInstance.get()) as instance:
        register_days(instance, days)
        for day in days:
            out = DayOutcome(day, "", True)
            outcomes.append(out)
            log(f"[parlay] {day} phase 1/3: ingest → features → structure (source: {source}) …")
            result = prepare.execute_in_process(
                instance=instance, partition_key=day.isoformat(), raise_on_error=False,
                asset_selection=selection(prepare),
                tags={"parlay/source": source, "parlay/phase": "1"}, run_config=run_config,
            )
            out.run_id = result.run_id
            _collect(out, result)
            if any("(blocking)" in c for c in out.failed_checks) or not result.success:
                out.success = False
                out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
                log(f"[parlay] {day}: stopped after phase 1 (failed step or blocking check)")
                continue
            clusters = out.metadata.get("pricing/game_clusters", {}).get("cluster_ids") or []
            register_clusters(instance, clusters)
            for i, cluster in enumerate(clusters, 1):
                log(f"[parlay] {day} phase 2/3: fitting cluster {i}/{len(clusters)} {cluster} …")
                fit = fit_job.execute_in_process(
                    instance=instance, partition_key=cluster, raise_on_error=False,
                    tags={"parlay/source": source, "parlay/phase": "2", TRADING_DAY_TAG: day.isoformat()},
                    run_config=run_config,
                )
                _collect(out, fit)
            if any("(blocking)" in c for c in out.failed_checks) or not out.success:
                out.success = False
                out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
                log(f"[parlay] {day}: stopped after phase 2 (a fit failed or failed a blocking check)")
                continue
            log(f"[parlay] {day} phase 3/3: ensemble → risk → hedging → settlement → monitoring …")
            result = finish.execute_in_process(
                instance=instance, partition_key=day.isoformat(), raise_on_error=False,
                asset_selection=selection(finish),
                tags={"parlay/source": source, "parlay/phase": "3"}, run_config=run_config,
            )
            _collect(out, result)
            out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
            if any("(blocking)" in c for c in out.failed_checks):
                out.success = False
    return outcomes


def where_to_look(url: str) -> list[str]:
    return [
        "Where to look:",
        "  Dagster UI     .venv/bin/parlay ui          (then open http://127.0.0.1:3000)",
        f"  Postgres       {redact(url)}",
        "                 .venv/bin/parlay db psql     (schemas raw, quarantine, staging, marts, …)",
        f"  Parquet        {config.storage_url()}",
    ]
