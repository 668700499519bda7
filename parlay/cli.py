"""``parlay``: the project's command line.

Progress goes to stderr; machine-readable results (JSON) go to stdout, last line.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="parlay",
    help="Parlay market maker for Kalshi: ingest, features, pricing, risk, hedging — orchestrated by Dagster.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The project's PostgreSQL database (embedded by default).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: print speed and memory figures.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
api_key_app = typer.Typer(help="API keys of the quote service.", no_args_is_help=True)
dbt_app = typer.Typer(help="The dbt project (features and marts) on the project's database.", no_args_is_help=True)
app.add_typer(dbt_app, name="dbt")
app.add_typer(api_key_app, name="api-key")
evaluate_app = typer.Typer(help="Evaluations: replays and audits of quotes.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL (default: PARLAY_DATABASE_URL, else the embedded server)"),
]


class Source(StrEnum):
    simulated = "simulated"
    recorded = "recorded"
    live = "live"


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fail(message: str, code: int = 1) -> None:
    err(f"error: {message}")
    raise typer.Exit(code)


# ----------------------------------------------------------------------------- ingest-captures


@app.command("ingest-captures")
def ingest_captures(
    paths: Annotated[list[Path], typer.Argument(help="capture files (.ndjson / .ndjson.gz) or folders")],
    database_url: DatabaseUrl = None,
) -> None:
    """Load Kalshi WebSocket capture files into raw.* / quarantine.*; print a JSON summary last.

    Exit 0 when every message read was loaded or quarantined (a truncated file loads its readable
    prefix); 3 when some file could not be read at all (named on stderr; the others still load);
    2 when a file's counts do not add up; 1 on a usage or database error."""
    import psycopg

    from parlay.db.connection import connect, redact, resolve_database_url
    from parlay.db.migrate import migrate
    from parlay.sources.recorded import RecordedSource
    from parlay.warehouse.ingest import load_market_stream, load_metadata, load_settlements

    try:
        source = RecordedSource(paths)
    except FileNotFoundError as exc:
        fail(str(exc))
    url = resolve_database_url(database_url)
    err(f"[parlay] {len(source.files)} capture file(s) → {redact(url)}")
    err("[parlay] scanning sequence numbers …")
    for s in source.sessions():
        err(f"[parlay] session {s.id}: {len(s.files)} file(s)")
    current = {"file": ""}

    def progress(message: str) -> None:
        current["file"] = message.removeprefix("loading ")
        err(f"[parlay] {message}")

    with connect(url) as conn:
        migrate(conn)
        load_metadata(conn, source.metadata())
        try:
            report = load_market_stream(conn, source, progress=progress)
        except (psycopg.Error, OSError) as exc:
            fail(f"loading {current['file'] or 'the captures'} stopped: {type(exc).__name__}: {exc}")
        load_settlements(conn, source.name, source.settlements())
    for u in report.units:
        flag = "" if u.balanced else "  UNBALANCED"
        rebuilt = f" (rebuilt backward: {u.rebuilt_backward})" if u.rebuilt_backward else ""
        err(f"[parlay] {u.label}: read {u.messages_read}, loaded {u.loaded}{rebuilt}, quarantined {u.quarantined}"
            f"{flag}")
        if u.truncated_at is not None:
            err(f"[parlay] {u.label}: truncated at byte {u.truncated_at} ({u.read_error}); "
                "its readable prefix was loaded")
    for name, of in report.duplicates:
        err(f"[parlay] {name}: same content as {of}; recorded as its duplicate, not loaded again")
    summary = report.summary()
    if report.quarantine_reasons:
        err(f"[parlay] quarantine reasons: {dict(report.quarantine_reasons)}")
    if report.gaps:
        err(f"[parlay] sequence gaps by kind: {dict(report.gaps)}")
    for f in source.unreadable_files():
        err(f"error: cannot read {f.path}: {f.error}")
    print(json.dumps(summary), flush=True)
    if not all(u.balanced for u in report.units):
        raise typer.Exit(2)
    if source.unreadable_files():
        raise typer.Exit(3)


# ----------------------------------------------------------------------------- run


@app.command("run", context_settings={"allow_extra_args": True})
def run(
    ctx: typer.Context,
    source: Annotated[Source, typer.Option("--source", help="where market data comes from")] = Source.simulated,
    captures: Annotated[
        list[Path] | None, typer.Option(
            "--captures", metavar="PATH…",
            help="capture files, folders or globs for --source recorded (several after one flag, or repeated)")
    ] = None,
    database_url: DatabaseUrl = None,
    day: Annotated[
        list[str] | None,
        typer.Option("--date", help="trading day(s) YYYY-MM-DD (default: simulated yesterday, recorded: "
                                    "every day in the captures, live: today)"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="simulator seed (--source simulated; default "
                                                                   "PARLAY_SIM_SEED, else 7)")] = None,
    combo_flow: Annotated[str | None, typer.Option(
        "--combo-flow", metavar="off|simulated",
        help="--source recorded: 'simulated' draws combo trades over the captured legs' real prices (informed "
             "traders who know the legs' later prices, noise traders, execution at the ask with Kalshi's fee "
             "markup; settled on the real outcomes), so a real day can be replayed with combo flow")] = None,
) -> None:
    """The main job: materialize the whole asset graph through Dagster (instance in the same Postgres)."""
    import os

    from parlay import config
    from parlay.orchestration import default_day, prepare_environment, run_main_job, where_to_look

    if seed is not None:
        if source is not Source.simulated:
            fail("--seed is only for --source simulated")
        os.environ["PARLAY_SIM_SEED"] = str(seed)
    if combo_flow is not None:
        if combo_flow not in ("off", "simulated"):
            fail(f"--combo-flow {combo_flow!r}: expected off or simulated")
        if source is not Source.recorded:
            fail("--combo-flow is only for --source recorded (the simulated source has its own combo trades)")
        os.environ["PARLAY_COMBO_FLOW"] = combo_flow

    if ctx.args:  # `--captures A B C`: the paths after the first are left over as extra arguments
        if not captures:
            fail(f"unexpected extra argument(s): {' '.join(ctx.args)}")
        captures = [*captures, *(Path(a) for a in ctx.args)]
    if captures and source is not Source.recorded:
        fail("--captures is only for --source recorded")
    recorded_days: list[date] | None = None
    if source is Source.recorded:
        from parlay.sources.recorded import RecordedSource

        try:
            recorded_days = RecordedSource(captures or [config.captures_dir()]).days()
        except FileNotFoundError as exc:
            fail(f"{exc}. Pass --captures PATH or set PARLAY_CAPTURES_DIR.")
    if day:
        try:
            days = [date.fromisoformat(d) for d in day]
        except ValueError as exc:
            fail(f"--date: {exc}")
    elif recorded_days is not None:
        days = recorded_days
    else:
        days = [default_day(source.value)]
    if recorded_days is not None:
        empty = [d for d in days if d not in recorded_days]
        if empty:
            where = ", ".join(str(p) for p in (captures or [config.captures_dir()]))
            have = ", ".join(d.isoformat() for d in recorded_days) or "none"
            fail(f"no data for {', '.join(d.isoformat() for d in empty)} from recorded captures {where} "
                 f"(days with data: {have})")
    url = prepare_environment(database_url)
    from parlay.db.connection import redact

    err(f"[parlay] database: {redact(url)}")
    outcomes = run_main_job(source.value, days, captures or (), log=err)
    ok = True
    for o in outcomes:
        err(f"\n[parlay] {o.day}: {'success' if o.success else 'FAILED'}")
        for r in o.runs:
            err(f"    run           {r.job}[{r.partition}] {r.run_id} — {'success' if r.success else 'FAILURE'}")
        for key in sorted(o.materialized):
            rows = o.metadata.get(key, {}).get("rows")
            err(f"    materialized  {key}" + (f"  ({rows} rows)" if rows is not None else ""))
        stream = next((m for k, m in o.metadata.items() if k.split("[")[0] == "raw/orderbook_deltas"), {})
        if "messages_read" in stream:
            err(f"    ingest        read {stream['messages_read']}, quarantined {stream['quarantined']}, "
                f"rebuilt backward: {stream.get('rebuilt_backward', 0)}")
        err(f"    checks        {len(o.passed_checks)} passed, {len(o.failed_checks)} failed")
        for key, reason in sorted(o.nothing_to_quote.items()):
            err(f"    {reason}  ({key})")
        for check in o.failed_checks:
            err(f"    FAILED check  {check}")
        for f in o.failures:
            err(f"    FAILED run    {f.job} {f.run_id}")
            err(f"    FAILED step   {f.step}")
            err(f"    cause         {f.error_type}: {f.message}")
        if not o.success and o.not_materialized:
            err(f"    not materialized: {', '.join(o.not_materialized)}")
        ok = ok and o.success
    book = _book_summary(url, days)
    if book:
        err("")
        for label, part in (("day's book", book["day"]), ("cumulative book", book["cumulative"])):
            err(f"[parlay] {label}: {part['bets']} bets ({part['won']} won, {part['lost']} lost, {part['open']} open); "
                f"{part['hedge_fills']} hedge fills; house P&L from bets ${part['house_pnl']}")
        err(f"[parlay] ledger trial balance {book['trial_balance']} "
            f"({'balanced' if book['balanced'] else 'OUT OF BALANCE'})")
        ok = ok and book["balanced"]
    err("")
    for line in where_to_look(url):
        err(line)
    print(json.dumps({
        "success": ok,
        "book": book,
        "runs": [{"day": o.day.isoformat(), "run_id": o.run_id, "success": o.success,
                  "phases": [{"job": r.job, "partition": r.partition, "run_id": r.run_id, "success": r.success}
                             for r in o.runs],
                  "failures": [{"job": f.job, "run_id": f.run_id, "step": f.step, "error_type": f.error_type,
                                "message": f.message} for f in o.failures],
                  "failed_steps": o.failed_steps, "failed_checks": o.failed_checks,
                  "nothing_to_quote": o.nothing_to_quote} for o in outcomes],
    }), flush=True)
    if not ok:
        raise typer.Exit(1)


def _book_counts(s: dict) -> dict:
    bets = s["bets"]
    return {"bets": sum(bets.values()), "won": bets.get("won", 0), "lost": bets.get("lost", 0),
            "open": bets.get("open", 0), "hedge_fills": s["hedge_fills"], "house_pnl": str(s["bettor_pnl_for_house"])}


def _book_summary(url: str, days: list[date]) -> dict | None:
    """The run's days' book and, separately, the cumulative book and the trial balance (None: empty ledger)."""
    import psycopg

    from parlay import book_runtime

    with psycopg.connect(url) as conn:
        total = book_runtime.pnl(conn)
        per_day = [book_runtime.day_book(conn, d) for d in days]
    if not total["bets"] and not total["hedge_fills"]:
        return None
    merged: dict = {"bets": {}, "hedge_fills": 0, "bettor_pnl_for_house": 0}
    for part in per_day:
        for state, n in part["bets"].items():
            merged["bets"][state] = merged["bets"].get(state, 0) + n
        merged["hedge_fills"] += part["hedge_fills"]
        merged["bettor_pnl_for_house"] += part["bettor_pnl_for_house"]
    return {"day": {"days": [d.isoformat() for d in days], **_book_counts(merged)},
            "cumulative": _book_counts(total),
            "trial_balance": str(total["trial_balance"]), "balanced": total["trial_balance"] == 0}


# ----------------------------------------------------------------------------- monitoring


def _monitoring_connection(database_url: str | None):  # type: ignore[no-untyped-def]
    from parlay.db.connection import connect, resolve_database_url
    from parlay.db.migrate import migrate

    conn = connect(resolve_database_url(database_url))
    try:
        migrate(conn)
        conn.commit()
    except RuntimeError as exc:
        conn.close()
        fail(str(exc))
    return conn


@app.command("report")
def report(
    day: Annotated[str | None, typer.Option("--date", help="trading day YYYY-MM-DD (default: the newest monitored)")]
    = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The day's monitoring in the terminal: P&L, LP pool, hedge quality, model drift, failed checks."""
    from parlay.monitoring_report import NoMonitoring, latest_day
    from parlay.monitoring_report import report as monitoring_report

    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError as exc:
        fail(f"--date: {exc}")
    with _monitoring_connection(database_url) as conn:
        wanted = wanted or latest_day(conn)
        if wanted is None:
            fail("no monitored day yet: `parlay run` materializes the monitoring assets")
        try:
            lines = monitoring_report(conn, wanted)
        except NoMonitoring as exc:
            fail(str(exc))
    print("\n".join(lines), flush=True)


@app.command("resume-hedging")
def resume_hedging(database_url: DatabaseUrl = None) -> None:
    """Lift the pauses a failed ERROR monitoring check put on the hedge schedule (restart the schedule in the UI if
    it was stopped)."""
    from parlay.monitoring_runtime import active_pauses
    from parlay.monitoring_runtime import resume_hedging as resume

    with _monitoring_connection(database_url) as conn:
        for at, d, check, reason in active_pauses(conn):
            err(f"[parlay] lifting the pause of {at:%Y-%m-%d %H:%M} UTC by {check} ({d}): {reason}")
        n = resume(conn)
    print(json.dumps({"pauses_lifted": n}), flush=True)


# ----------------------------------------------------------------------------- experiments


@app.command("experiment")
def experiment(
    name: Annotated[str, typer.Argument(help="loss-scaling | convergence | parlay-reversal | noise")],
    full: Annotated[bool, typer.Option("--full", help="paper-like sizes: n = 4…9, 20 runs × 2000 rounds")] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    runs: Annotated[int | None, typer.Option(help="independent runs (default: by mode)")] = None,
    rounds: Annotated[int | None, typer.Option(help="trading rounds per run (default: by mode)")] = None,
    workers: Annotated[int, typer.Option(help="processes for independent runs")] = 1,
    horizon: Annotated[float | None, typer.Option(
        help="game time covered by trading, in [0, 1) (default 0.5: the paper's moving truth; 0 = static)")] = None,
    static: Annotated[bool, typer.Option(
        "--static", help="static-truth setting (horizon 0: one fixed law; not the paper's setting)")] = False,
    rho: Annotated[float, typer.Option(help="pairwise correlation of the scores")] = 0.5,
    noise: Annotated[str | None, typer.Option(
        help="noise-trader fraction φ (default 0); for 'noise', a comma-separated grid")] = None,
    n_min: Annotated[int | None, typer.Option("--n-min", help="smallest n (default: 4)")] = None,
    n_max: Annotated[int | None, typer.Option(
        "--n-max", help="largest n (default: 9 full, 6 quick); convergence and noise run n-max")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="end with the results as one JSON object (the last stdout line)")] = False,
    out: Annotated[Path | None, typer.Option(help="folder for the table (CSV) and plot (PNG)")] = None,
    save: Annotated[bool, typer.Option(help="also store the run in Postgres (schema evaluation)")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Run one of the paper's synthetic experiments: print its table and the paper's claims checked on it,
    write CSV + PNG."""
    import time

    # The experiments' matrices are small: extra BLAS threads only contend for the cores (set before numpy
    # is first imported; an explicit setting wins).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import pandas as pd

    from models.experiments.runner import DISPLAY_COLUMNS, EXPERIMENTS, run_experiment
    from parlay import config

    if name not in EXPERIMENTS:
        fail(f"unknown experiment {name!r}: choose one of {', '.join(sorted(EXPERIMENTS))}")
    if static and horizon not in (None, 0.0):
        fail(f"--static means horizon 0; drop --horizon {horizon} or --static")
    try:
        phis = [float(v) for v in noise.split(",")] if noise else []
    except ValueError:
        fail(f"--noise takes a number (or, for 'noise', comma-separated numbers), got {noise!r}")
    if name != "noise" and len(phis) > 1:
        fail(f"--noise takes one fraction for {name}; a grid only for the noise experiment")
    knobs = {"quick": not full, "seed": seed, "runs": runs, "rounds": rounds, "workers": workers,
             "horizon": 0.0 if static else horizon, "rho": rho, "n_min": n_min, "n_max": n_max}
    if name == "noise":
        knobs["noises"] = phis or None
    else:
        knobs["noise"] = phis[0] if phis else 0.0
    err(f"[parlay] experiment {name} ({'full' if full else 'quick'}, seed {seed}, workers {workers}) …")
    start = time.perf_counter()
    try:
        result = run_experiment(name, **knobs)
    except ValueError as exc:
        fail(str(exc))
    seconds = time.perf_counter() - start
    folder = out or (config.data_dir() / "experiments")
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = folder / f"{name}.csv", folder / f"{name}.png"
    result.table.to_csv(csv_path, index=False)
    png_path.write_bytes(result.figure_png)
    cfg = result.config
    shown = result.table[DISPLAY_COLUMNS[name]].copy()
    for col in [c for c in shown.columns if c.endswith("_se")]:
        shown[col] = 2.0 * shown[col]
        shown = shown.rename(columns={col: f"±2se({col[:-3]})"})
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.max_rows", 500,
                           "display.float_format", lambda v: f"{v:.4g}"):
        print(f"=== {name} ({cfg['mode']}, {cfg['runs']} runs × {cfg['rounds']} rounds, seed {seed}, "
              f"{seconds:.1f} s) — {cfg['setting']} ===")
        print(shown.to_string(index=False))
    print(result.notes, flush=True)
    err(f"[parlay] table {csv_path}, plot {png_path}")
    run_id = None
    if save:
        from parlay.db.connection import connect
        from parlay.db.migrate import migrate
        from parlay.evaluation_store import save_result

        with connect(database_url) as conn:
            migrate(conn)
            run_id = save_result(conn, config.storage_url(), result, seconds).run_id
    if json_out:
        payload = {**result.payload, "seconds": round(seconds, 1), "workers": workers, "csv": str(csv_path),
                   "png": str(png_path), "run_id": run_id}
        print(json.dumps(payload, allow_nan=False), flush=True)


# ----------------------------------------------------------------------------- ui


@app.command("ui")
def ui(
    port: Annotated[int, typer.Option(help="port for the Dagster UI")] = 3000,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    daemon: Annotated[bool, typer.Option(help="also run the Dagster daemon (schedules, sensors)")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the Dagster UI (and daemon: schedules, sensors) on the project's instance."""
    from parlay.orchestration import CODE_LOCATION, prepare_environment
    from parlay.ui_server import serve

    prepare_environment(database_url)
    home = os.environ["DAGSTER_HOME"]
    err(f"[parlay] Dagster UI on http://{host}:{port}  (code location {CODE_LOCATION}, DAGSTER_HOME={home}; "
        "daemon on: schedules, sensors, automation)")
    serve(host, port, Path(home) / "workspace.yaml", daemon=daemon)


# ----------------------------------------------------------------------------- dbt


@app.command("dbt-parse")
def dbt_parse() -> None:
    """Parse the dbt project (writes dbt/target/manifest.json, which the Dagster code location reads)."""
    from parlay.dbtenv import parse

    try:
        path = parse()
    except RuntimeError as exc:
        fail(str(exc))
    err(f"[parlay] dbt manifest: {path}")


@dbt_app.command("docs")
def dbt_docs(
    serve_docs: Annotated[bool, typer.Option("--serve", help="then serve the site (dbt docs serve)")] = False,
    port: Annotated[int, typer.Option(help="port for --serve")] = 8080,
    database_url: DatabaseUrl = None,
) -> None:
    """Generate dbt's documentation site (models, columns, tests, lineage, the catalog read from the configured
    database: PARLAY_DATABASE_URL or the embedded server), and with --serve, serve it."""
    import subprocess

    from parlay.db.connection import connect, redact, resolve_database_url
    from parlay.db.migrate import migrate
    from parlay.dbtenv import DBT_DIR, dbt_env, dbt_executable

    url = resolve_database_url(database_url)
    with connect(url) as conn:
        migrate(conn)
    env = {**os.environ, **dbt_env(url)}
    target = "target/docs"  # beside, not over, the manifest the Dagster code location reads
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target-path", target]
    err(f"[parlay] dbt docs generate on {redact(url)} …")
    proc = subprocess.run([dbt_executable(), "--quiet", "docs", "generate", *common], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        fail(f"dbt docs generate failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")
    site = DBT_DIR / target / "index.html"
    err(f"[parlay] dbt docs: {site}")
    print(json.dumps({"index": str(site), "catalog": str(DBT_DIR / target / "catalog.json"),
                      "database": redact(url)}), flush=True)
    if serve_docs:
        err(f"[parlay] serving dbt docs on http://127.0.0.1:{port}")
        os.execve(dbt_executable(), [dbt_executable(), "docs", "serve", *common, "--port", str(port),
                                     "--host", "127.0.0.1", "--no-browser"], env)


# ----------------------------------------------------------------------------- quote service


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="port to listen on")] = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the quote API (uvicorn) after applying migrations. OpenAPI at /docs; health at /health."""
    import logging

    import uvicorn

    from parlay.db.connection import connect, redact, resolve_database_url
    from parlay.db.migrate import migrate
    from service.app import create_app
    from service.server import uvicorn_limits
    from service.settings import ServiceSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = resolve_database_url(database_url)
    try:
        with connect(url) as conn:
            applied = migrate(conn)
    except RuntimeError as exc:
        fail(str(exc))
    if applied:
        err(f"[parlay] applied migrations: {', '.join(applied)}")
    try:
        settings = ServiceSettings.from_env(database_url=url)
    except ValueError as exc:
        fail(str(exc))
    err(f"[parlay] quote API on http://{host}:{port}  (database {redact(url)}; docs at /docs)")
    from parlay.ui_server import sigterm_as_interrupt

    api = create_app(settings)
    sigterm_as_interrupt()
    try:
        uvicorn.run(api, host=host, port=port, log_level="info", **uvicorn_limits(api))
    except KeyboardInterrupt:
        pass
    finally:
        from parlay import redis_cache

        if api.state.runtime.redis_target.mode == redis_cache.PRIVATE and redis_cache.stop_private_redis():
            err("[parlay] stopped the private redis-server")


def _parse_legs(spec: str) -> list[dict[str, str]]:
    legs = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        ticker, sep, side = part.rpartition(":")
        if not sep or not ticker or side.lower() not in ("yes", "no"):
            fail(f"--legs: {part!r} is not TICKER:yes or TICKER:no")
        legs.append({"ticker": ticker, "side": side.lower()})
    if not legs:
        fail("--legs is empty: give TICKER:yes,TICKER:no,…")
    return legs


@app.command("quote")
def quote(
    legs: Annotated[str, typer.Option("--legs", help="comma-separated TICKER:yes|no")],
    stake: Annotated[str, typer.Option("--stake", help="dollars to stake")] = "10",
    day: Annotated[str | None, typer.Option("--date", help="trading day whose models to use (default: newest)")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="replay: quote as of this ISO time (markets open or closed as they were then)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Price a parlay in process, through the same code as POST /quotes (the quote is stored); print its JSON."""
    from decimal import Decimal, InvalidOperation

    from pydantic import ValidationError

    from parlay.db.connection import connect, resolve_database_url
    from parlay.db.migrate import migrate
    from service.app import ServiceRuntime, validation_error
    from service.errors import ApiError
    from service.quoting import QuoteRequest
    from service.settings import ServiceSettings

    parsed = _parse_legs(legs)
    try:
        amount = Decimal(stake)
    except InvalidOperation:
        fail(f"--stake {stake!r} is not a number")
    url = resolve_database_url(database_url)
    try:
        with connect(url) as conn:
            migrate(conn)
    except RuntimeError as exc:
        fail(str(exc))
    try:
        trading_day = date.fromisoformat(day) if day else None
        when = datetime.fromisoformat(as_of.replace("Z", "+00:00")) if as_of else None
    except ValueError as exc:
        fail(f"--date/--as-of: {exc}")
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    runtime = ServiceRuntime(ServiceSettings.from_env(database_url=url, redis_enabled=False, trading_day=trading_day,
                                                      as_of=when, live=False if when is not None else None))
    try:
        try:
            request = QuoteRequest.model_validate({"legs": parsed, "stake": amount})
        except ValidationError as exc:
            raise validation_error(list(exc.errors())) from None
        out = runtime.engine.quote(request, None)
    except ApiError as exc:
        hint = _other_day_hint(url, exc) if trading_day is None else ""
        fail(f"{exc.code} ({exc.status}): {exc.message}{hint}")
    finally:
        runtime.close()
    print(json.dumps(out.model_dump(mode="json")), flush=True)


def _other_day_hint(url: str, exc: Exception) -> str:
    """For a market of an older day's models: which day it belongs to, and the option that quotes it."""
    ticker = (getattr(exc, "details", None) or {}).get("ticker") if getattr(exc, "code", "") == "unknown_market" \
        else None
    if not ticker:
        return ""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(trading_day) FROM pricing.cluster_models WHERE markets @> %s::jsonb",
                           (json.dumps([{"market_ticker": ticker}]),)).fetchone()
    if row is None or row[0] is None:
        return ""
    return (f". {ticker} is a market of {row[0]}, not of the newest day's models: add --date {row[0]} "
            f"(and --as-of an instant of that day to replay it)")


@api_key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Option("--name", help="who or what the key is for")],
    rate_per_min: Annotated[int, typer.Option("--rate-per-min", help="requests per minute")] = 120,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it once (only its scrypt hash is stored)."""
    from parlay.apikeys import create_api_key
    from parlay.db.connection import connect
    from parlay.db.migrate import migrate

    try:
        with connect(database_url) as conn:
            migrate(conn)
            key = create_api_key(conn, name, rate_per_min)
    except (RuntimeError, ValueError) as exc:
        fail(str(exc))
    err(f"[parlay] created key {key.key_id} ({key.rate_per_min}/min). The secret is shown once: store it now.")
    print(json.dumps({"key_id": key.key_id, "name": key.name, "rate_per_min": key.rate_per_min,
                      "api_key": key.api_key}), flush=True)


@api_key_app.command("list")
def api_key_list(
    active: Annotated[bool, typer.Option("--active", help="only keys that are not revoked")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List the stored keys, one JSON object a line (key id, name, rate, created, revoked; never a secret)."""
    from parlay.apikeys import list_keys
    from parlay.db.connection import connect
    from parlay.db.migrate import migrate

    try:
        with connect(database_url) as conn:
            migrate(conn)
            keys = list_keys(conn, active_only=active)
    except (RuntimeError, ValueError) as exc:
        fail(str(exc))
    for k in keys:
        print(json.dumps({"key_id": k.key_id, "name": k.name, "rate_per_min": k.rate_per_min,
                          "created_at": k.created_at.isoformat(),
                          "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}), flush=True)
    err(f"[parlay] {len(keys)} key(s)" + (" not revoked" if active else ""))


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's public id, pk_…")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: the running API refuses it from its next request on."""
    from parlay.apikeys import current_record, revoke
    from parlay.db.connection import connect
    from parlay.db.migrate import migrate

    key_id = key_id.strip().split(".", 1)[0]  # a full key pasted by mistake: keep only its public id
    try:
        with connect(database_url) as conn:
            migrate(conn)
            done = revoke(conn, key_id)
            record = None if done else current_record(conn, key_id)
    except (RuntimeError, ValueError) as exc:
        fail(str(exc))
    if not done:
        fail(f"key {key_id} is already revoked" if record is not None else f"no key {key_id}")
    err(f"[parlay] revoked key {key_id}")


# ----------------------------------------------------------------------------- db


@db_app.command("url")
def db_url(database_url: DatabaseUrl = None) -> None:
    """Print the database URL in use (starting the embedded server if needed)."""
    from parlay.db.connection import resolve_database_url

    print(resolve_database_url(database_url))


@db_app.command("migrate")
def db_migrate(database_url: DatabaseUrl = None) -> None:
    """Apply pending schema migrations."""
    from parlay.db.connection import connect
    from parlay.db.migrate import migrate

    with connect(database_url) as conn:
        applied = migrate(conn)
    print(json.dumps({"applied": applied}))


@db_app.command("psql")
def db_psql(database_url: DatabaseUrl = None) -> None:
    """Open psql on the project's database."""
    import shutil

    from parlay.db.connection import resolve_database_url

    url = resolve_database_url(database_url)
    psql = shutil.which("psql")
    if psql is None:
        from pgserver._commands import POSTGRES_BIN_PATH

        psql = str(POSTGRES_BIN_PATH / "psql")
    os.execv(psql, [psql, url])


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (data stays under .data/pg)."""
    from parlay.db import embedded

    print("stopped" if embedded.stop() else "not running")


# ----------------------------------------------------------------------------- evaluate


@evaluate_app.command("combo-quotes")
def evaluate_combo_quotes(
    file: Annotated[Path, typer.Argument(help="CSV with columns leg_1 … leg_k (YES prices, cents) and quote (cents)")],
    json_out: Annotated[bool, typer.Option("--json", help="print the figures as JSON (last stdout line)")] = False,
) -> None:
    """Coherence audit of combo quotes seen elsewhere (e.g. Kalshi RFQ quotes), legs taken as independent:
    Fréchet upper-bound violations and mean premium over the independence price, for the quotes and for our
    own price of the same legs."""
    from models.pricing.combo_audit import ComboQuoteFileError, audit_combo_quotes, read_combo_quotes

    try:
        rows = read_combo_quotes(file)
    except ComboQuoteFileError as exc:
        fail(str(exc))
    if not rows:
        fail(f"{file}: no combo quotes in the file (expected a header leg_1,…,leg_k,quote and one row per combo)")
    audit = audit_combo_quotes(rows)
    offered = "n/a" if audit.offered_premium_cents is None else f"{audit.offered_premium_cents:+.2f}¢"
    err(f"[parlay] {audit.rows} combo quotes from {file} (legs taken as independent events)")
    err(f"[parlay]   quotes: {audit.quote_frechet_violations} above the Fréchet upper bound min(p_i); "
        f"mean premium over independence {audit.quote_premium_cents:+.2f}¢")
    err(f"[parlay]   ours:   {audit.ours_frechet_violations} above the bound; mean premium "
        f"{audit.ours_premium_cents:+.2f}¢ (the ensemble's fair price)")
    err(f"[parlay]   offered with our margin: {audit.offered_frechet_violations} above the bound; mean premium "
        f"{offered}" + (f"; {audit.offered_refused} refused" if audit.offered_refused else ""))
    if json_out:
        print(json.dumps(audit.as_json()), flush=True)


@evaluate_app.command("replay")
def evaluate_replay(
    day: Annotated[list[str] | None, typer.Option(
        "--date", help="trading day(s) YYYY-MM-DD, repeatable (default: every day with combo trades and fits)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON (last stdout line)")] = False,
    ablation: Annotated[bool, typer.Option(
        "--ablation/--no-ablation", help="also the standalone MM refitted without the fee correction")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Replay stored days against their combo trades in the paper's Table 4 form: per strategy (kalshi_execution,
    independence, standalone_mm, full_amm, and the fee-correction ablation) trades, accepted, the house's win
    rate, premium, payout, net P&L, pool capital, ROI, Sharpe and Brier; per day, over all days, and the mean
    ± 2 SE across days. A strategy takes a trade when its pre-trade quote is at or below the execution price."""
    from parlay import config
    from parlay import replay_evaluation as rev

    try:
        wanted = [date.fromisoformat(d) for d in day] if day else None
    except ValueError as exc:
        fail(f"--date: {exc}")
    with _monitoring_connection(database_url) as conn:
        days = wanted or rev.replay_days(conn)
        if not days:
            fail("no day with combo trades and fitted models: run `parlay run` first (for captures: "
                 "`parlay run --source recorded --captures PATH… --combo-flow simulated`)")
        replays = []
        for k, d in enumerate(days, 1):
            err(f"[parlay] evaluate replay {k}/{len(days)}: {d}")
            try:
                replays.append(rev.replay_day(conn, d, ablation=ablation, log=err))
            except pricing_store_errors() as exc:
                fail(f"{d}: {exc}")
            conn.commit()
        pngs = (rev.cumulative_pnl_png(replays), rev.calibration_png(replays))
        stored = rev.save_replay(conn, config.storage_url(), replays, pngs)
    for r in replays:
        err(f"\n[parlay] {r.day}: {r.setting} ({len(r.trades)} trades, {r.seconds:.0f} s)")
        err(rev.format_table(r.results()))
    if len(replays) > 1:
        err(f"\n[parlay] all {len(replays)} days together:")
        err(rev.format_table(rev.combined(replays)))
        err("\n[parlay] mean ± 2 SE across days:")
        err(rev.format_across(replays))
    err(f"\n[parlay] stored as evaluation.replay_runs run_id {stored.run_id}; plots {stored.pnl_png_url}, "
        f"{stored.calibration_png_url}")
    if json_out:
        print(json.dumps({**rev.report_json(replays), "run_id": stored.run_id}, default=str), flush=True)


def pricing_store_errors() -> tuple[type[BaseException], ...]:
    from parlay.pricing_store import NoFittedModels

    return (NoFittedModels, LookupError)


# ----------------------------------------------------------------------------- bench


@bench_app.command("ingest")
def bench_ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="captures (default: PARLAY_CAPTURES_DIR)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load all captures into a fresh database; print messages/s and peak memory."""
    from parlay.bench import ingest_benchmark

    figures = ingest_benchmark(paths, database_url, log=err)
    print(json.dumps(figures), flush=True)


@bench_app.command("pricing")
def bench_pricing(
    quick: Annotated[bool, typer.Option("--quick", help="fewer models and quotes (a smoke run)")] = False,
) -> None:
    """Pricing core: approximate vs exact accuracy on n=18 clusters, 10-leg quote latency on a 135-variable
    cluster (sparse and fully connected) beside independence and the scipy copula, one SGD update."""
    from models.pricing.bench import run_all

    err("[bench] pricing (this takes a minute or two) …")
    figures = run_all(quick=quick)
    for name, part in figures.items():
        err(f"[bench] {name}: {json.dumps(part, default=str)[:600]}")
    print(json.dumps(figures, default=str), flush=True)


@bench_app.command("features")
def bench_features(
    paths: Annotated[list[Path] | None, typer.Argument(help="captures (default: PARLAY_CAPTURES_DIR)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The full dbt build (features, marts, tests) over the real captures plus a default simulated day, in a
    fresh database: prints load time and dbt build time (goal ≤ 60 s on 2 cores)."""
    from parlay.bench import features_benchmark

    figures = features_benchmark(paths, database_url, log=err)
    print(json.dumps(figures), flush=True)


@bench_app.command("quote")
def bench_quote(
    requests: Annotated[int, typer.Option("--requests", help="quotes per leg count")] = 300,
    seconds: Annotated[float, typer.Option("--seconds", help="duration of the 2-client throughput run")] = 5.0,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="always the synthetic 135-market cluster")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The quote API over HTTP: p50/p99 latency for 2-, 5- and 10-leg parlays and quotes/s with 2 clients
    (temporary database; the project's stored models copied in, else a synthetic 135-market cluster)."""
    from service.bench import quote_benchmark

    figures = quote_benchmark(database_url, requests, seconds, synthetic, log=err)
    print(json.dumps(figures), flush=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
