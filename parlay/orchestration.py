"""Running the pipeline through Dagster from the CLI, with the instance stored in the same Postgres."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from parlay import config
from parlay.db.connection import connect, resolve_database_url, sqlalchemy_url
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


# The code location as pyproject.toml names it ([tool.dagster]); `parlay ui` loads it from workspace.yaml and
# `parlay run` stamps the same origin on its runs, so they show under it (Jobs page, Overview timeline).
CODE_LOCATION = "parlay"
DEFINITIONS_MODULE = "dagster_project.definitions"
REPOSITORY = "__repository__"


def workspace_yaml() -> str:
    return (
        "# Written by parlay: the code location `parlay` (pyproject.toml [tool.dagster]).\n"
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {DEFINITIONS_MODULE}\n"
        f"      location_name: {CODE_LOCATION}\n"
        f"      working_directory: {config.project_root()}\n"
    )


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
    workspace = home / "workspace.yaml"
    if not workspace.exists() or workspace.read_text() != workspace_yaml():
        workspace.write_text(workspace_yaml())
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


@dataclass(frozen=True)
class StepFailure:
    """A failed step, named by its cause: the first exception in the chain that is not Dagster's own wrapper."""

    run_id: str
    job: str
    step: str
    error_type: str
    message: str


@dataclass
class RunRecord:
    job: str
    run_id: str
    success: bool
    partition: str


@dataclass
class DayOutcome:
    day: date
    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # "asset:check (blocking | error | warning)"
    passed_checks: list[str] = field(default_factory=list)
    not_materialized: list[str] = field(default_factory=list)
    metadata: dict[str, dict] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    failures: list[StepFailure] = field(default_factory=list)
    check_partitions: dict[str, str | None] = field(default_factory=dict)  # "asset:check" → partition
    nothing_to_quote: dict[str, str] = field(default_factory=dict)  # asset → "nothing to quote: <reason>"


def root_cause(error) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(type, message) of the exception behind a Dagster error: the first one in the cause chain that is
    not a Dagster wrapper (``DagsterExecutionStepExecutionError`` hides e.g. ``LookupError: …``)."""
    chain, seen = [], error
    while seen is not None and len(chain) < 20:
        chain.append(seen)
        seen = seen.cause or seen.context
    found = next((e for e in chain if not (e.cls_name or "").startswith("Dagster")), chain[0])
    kind = found.cls_name or "Error"
    text = (found.message or "").strip()
    head, sep, _ = text.split("\n", 1)[0].partition(": ")
    if sep and head.rsplit(".", 1)[-1] == kind:  # "LookupError: …" / "parlay.x.KalshiRetriesExhausted: …"
        text = text[len(head) + 2:]
    return kind, " ".join(text.split())


def _collect(out: DayOutcome, result, job: str, partition: str) -> None:  # type: ignore[no-untyped-def]
    out.runs.append(RunRecord(job, result.run_id, result.success, partition))
    for mat in result.get_asset_materialization_events():
        m = mat.event_specific_data.materialization  # type: ignore[union-attr]
        key = m.asset_key.to_user_string()
        if m.partition and m.partition != out.day.isoformat():  # a cluster fit: partition = the cluster
            key = f"{key}[{m.partition}]"
        out.materialized.append(key)
        out.metadata[key] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
        if out.metadata[key].get("nothing_to_quote"):
            out.nothing_to_quote[key] = str(out.metadata[key]["nothing_to_quote"])
    for ev in result.get_step_failure_events():
        error = ev.event_specific_data.error  # type: ignore[union-attr]
        kind, msg = root_cause(error) if error else ("Error", "")
        out.failures.append(StepFailure(result.run_id, job, ev.step_key, kind, msg))
        out.failed_steps.append(f"{ev.step_key}: {kind}: {msg}")
    for ev in result.get_asset_check_evaluations():
        name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
        out.check_partitions[name] = ev.partition
        if ev.passed:
            out.passed_checks.append(name)
        else:
            severity = getattr(getattr(ev, "severity", None), "value", "WARN")
            # non-blocking: the day goes on; at ERROR the monitoring sensor pauses the hedge schedule
            tag = "blocking" if getattr(ev, "blocking", False) else ("error" if severity == "ERROR" else "warning")
            out.failed_checks.append(f"{name} ({tag})")
    if not result.success:
        out.success = False


def stopped(out: DayOutcome) -> bool:
    """Does the day stop here? On a failed step or a failed blocking check; a failed non-blocking check (the
    monitoring checks, WARN or ERROR) is reported and the day goes on."""
    return not out.success or any("(blocking)" in c for c in out.failed_checks)


def launch(instance, job_name: str, partition_key: str, tags: dict[str, str],  # type: ignore[no-untyped-def]
           asset_selection: Sequence | None = None, run_config: dict | None = None):
    """Create a run of ``job_name`` that belongs to the code location ``parlay`` (its origin is the one
    ``parlay ui`` loads) and execute it in this process. Returns the execution result."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    root = str(config.project_root())
    recon = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", working_directory=root)
    recon_job = recon.get_reconstructable_job(job_name)
    if asset_selection:
        recon_job = recon_job.get_subset(asset_selection=set(asset_selection))
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE,
                             working_directory=root), CODE_LOCATION)
    origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, REPOSITORY), job_name=job_name)
    job_def = recon_job.get_definition()
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        partition_tags = job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=None)
    run = instance.create_run_for_job(
        job_def=job_def, run_config=run_config, tags={**job_def.tags, **partition_tags, **tags},
        asset_selection=frozenset(asset_selection) if asset_selection else None,
        remote_job_origin=origin, job_code_origin=recon_job.get_python_origin(),
    )
    return execute_run(recon_job, run, instance)


# In process, one step after the other; Dagster's console output off (every line is in the run's event log,
# shown by the UI): the CLI prints its own progress and summary.
RUN_CONFIG = {"execution": {"config": {"in_process": {}}},
              "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _merge(out: DayOutcome, part: DayOutcome) -> None:
    """Fold one fit run's outcome (from a worker process) into the day's."""
    out.success = out.success and part.success
    for name in ("materialized", "failed_steps", "failed_checks", "passed_checks", "runs", "failures"):
        getattr(out, name).extend(getattr(part, name))
    for name in ("metadata", "check_partitions", "nothing_to_quote"):
        getattr(out, name).update(getattr(part, name))


def _fit_in_worker(ref, job: str, cluster: str, day: date, tags: dict[str, str]) -> DayOutcome:  # type: ignore[no-untyped-def]
    """One cluster's fit run in a worker process, on the instance ``ref`` names."""
    import dagster as dg

    with dg.DagsterInstance.from_ref(ref) as instance:
        part = DayOutcome(day, "", True)
        _collect(part, launch(instance, job, cluster, tags, None, RUN_CONFIG), job, cluster)
    return part


def fit_workers(n_clusters: int) -> int:
    """How many cluster fits run at once: ``PARLAY_FIT_WORKERS`` (default: one per CPU core, at most 4)."""
    raw = os.environ.get("PARLAY_FIT_WORKERS", "").strip()
    try:
        wanted = int(raw) if raw else min(4, os.cpu_count() or 1)
    except ValueError:
        raise SystemExit(f"PARLAY_FIT_WORKERS={raw!r} is not a whole number of worker processes") from None
    return max(1, min(wanted, n_clusters))


def fit_clusters(instance, clusters: Sequence[str], day: date, tags: dict[str, str], out: DayOutcome,  # type: ignore[no-untyped-def]
                 log: Callable[[str], None]) -> None:
    """Phase 2: one fit run per cluster. The fits are independent, so with a persistent instance they run in
    :func:`fit_workers` processes at once (each its own Dagster run, as the UI shows them); with an
    in-memory instance (tests) or one worker, one after the other in this process."""
    from dagster_project.definitions import FIT_JOB

    workers = fit_workers(len(clusters))
    ref = instance.get_ref() if workers > 1 and not instance.is_ephemeral else None
    if ref is None:
        for i, cluster in enumerate(clusters, 1):
            log(f"[parlay] {day} phase 2/3: fitting cluster {i}/{len(clusters)} {cluster} …")
            _collect(out, launch(instance, FIT_JOB, cluster, tags, None, RUN_CONFIG), FIT_JOB, cluster)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    log(f"[parlay] {day} phase 2/3: fitting {len(clusters)} clusters, {workers} at a time …")
    # Forked where the platform can (a worker then starts with the definitions already imported, in well under a
    # second instead of ~10 s): between runs this process holds no open database connection (Dagster's
    # Postgres storage pools none; resources close theirs), and each worker opens its own instance from ``ref``.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        futures = {pool.submit(_fit_in_worker, ref, FIT_JOB, c, day, tags): c for c in clusters}
        parts: dict[str, DayOutcome] = {}
        for done, future in enumerate(as_completed(futures), 1):
            cluster = futures[future]
            parts[cluster] = future.result()
            state = "done" if parts[cluster].success else "FAILED"
            log(f"[parlay] {day} phase 2/3: cluster {done}/{len(clusters)} {cluster} {state}")
    for cluster in clusters:  # in the registry's order, as the sequential path reports them
        _merge(out, parts[cluster])


def run_main_job(
    source: str,
    days: Sequence[date],
    captures: Sequence[Path] = (),
    log: Callable[[str], None] = print,
    instance: object | None = None,
    exclude_groups: Sequence[str] = (),
) -> list[DayOutcome]:
    """Materialize the whole asset graph once per trading day (in process, instance in Postgres unless
    ``instance`` — a DagsterInstance — is given). Every run carries the origin of the code location
    ``parlay``, so the UI lists it under its job.

    Three phases per day, because one Ising fit per game cluster is its own partition (the cluster):
    (1) the daily assets up to the structural layer and the cluster registry; (2) one fit per cluster;
    (3) the daily assets downstream of the fits (ensemble, risk, hedging, ledger, monitoring). A failed
    blocking check stops the day where it fails: nothing downstream runs.
    """
    os.environ["PARLAY_SOURCE"] = source
    if captures:
        os.environ["PARLAY_CAPTURES_DIR"] = os.pathsep.join(str(Path(p).resolve()) for p in captures)
    import dagster as dg

    from dagster_project.definitions import FINISH_JOB, PREPARE_JOB, defs
    from dagster_project.partitions import TRADING_DAY_TAG, register_clusters, register_days

    graph = defs.resolve_asset_graph()

    def selection(job_name: str) -> list | None:
        if not exclude_groups:
            return None
        job = defs.resolve_job_def(job_name)
        return [k for k in job.asset_layer.executable_asset_keys if graph.get(k).group_name not in exclude_groups]

    all_keys = {k.to_user_string() for k in graph.materializable_asset_keys
                if graph.get(k).group_name not in exclude_groups}
    outcomes = []
    from contextlib import nullcontext

    with (nullcontext(instance) if instance is not None else dg.DagsterInstance.get()) as instance:
        register_days(instance, days)
        for day in days:
            out = DayOutcome(day, "", True)
            outcomes.append(out)
            base = {"parlay/source": source}
            log(f"[parlay] {day} phase 1/3: ingest → features → structure (source: {source}) …")
            result = launch(instance, PREPARE_JOB, day.isoformat(), {**base, "parlay/phase": "1"},
                            selection(PREPARE_JOB), RUN_CONFIG)
            out.run_id = result.run_id
            _collect(out, result, PREPARE_JOB, day.isoformat())
            if stopped(out):
                out.success = False
                out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
                log(f"[parlay] {day}: stopped after phase 1 (failed step or blocking check)")
                continue
            clusters = out.metadata.get("pricing/game_clusters", {}).get("cluster_ids") or []
            register_clusters(instance, clusters)
            fit_clusters(instance, clusters, day, {**base, "parlay/phase": "2", TRADING_DAY_TAG: day.isoformat()},
                         out, log)
            if stopped(out):
                out.success = False
                out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
                log(f"[parlay] {day}: stopped after phase 2 (a fit failed or failed a blocking check)")
                continue
            log(f"[parlay] {day} phase 3/3: ensemble → risk → hedging → settlement → monitoring …")
            result = launch(instance, FINISH_JOB, day.isoformat(), {**base, "parlay/phase": "3"},
                            selection(FINISH_JOB), RUN_CONFIG)
            _collect(out, result, FINISH_JOB, day.isoformat())
            out.not_materialized = sorted(all_keys - {k.split("[")[0] for k in out.materialized})
            if stopped(out):
                out.success = False
    return outcomes


def usable_url(url: str) -> str:
    """A libpq URL that psql and other clients accept, without the password (socket: ``?host=<dir>``)."""
    from urllib.parse import quote

    from parlay.db.connection import params

    p = params(url)
    user = quote(p.user, safe="")
    if p.is_socket:
        return f"postgresql://{user}@/{quote(p.dbname, safe='')}?host={quote(p.host, safe='/')}&port={p.port}"
    return f"postgresql://{user}@{p.host}:{p.port}/{quote(p.dbname, safe='')}"


def where_to_look(url: str) -> list[str]:
    from parlay.db.connection import params

    lines = [
        "Where to look:",
        "  Dagster UI     .venv/bin/parlay ui          (then open http://127.0.0.1:3000; runs under code location "
        f"{CODE_LOCATION})",
        f"  Postgres       {usable_url(url)}" + ("   (password: as in PARLAY_DATABASE_URL)"
                                                 if params(url).password else ""),
        "                 .venv/bin/parlay db psql     (schemas raw, quarantine, staging, marts, …)",
        f"  Parquet        {config.storage_url()}",
        "  Monitoring     .venv/bin/parlay report      (the day's P&L, pool, hedge quality, drift, failed checks)",
    ]
    return lines
