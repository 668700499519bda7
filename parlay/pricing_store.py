"""Store and load fitted pricing models: rows in Postgres (schema ``pricing``), parameters in object storage.

A *cluster model* is the Ising model of one game cluster with its market → literal mapping and the
copula's correlation; an *ensemble* snapshot names one model per cluster and (optionally) a CatBoost
classifier. Quotes load the newest ensemble (of a trading day, or overall) with :func:`load_pricer`;
the snapshot is self-contained, so the quote path needs neither dbt marts nor Dagster.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import fsspec
import numpy as np
import pandas as pd
import psycopg

from models.pricing.catboost_parlay import ParlayClassifier
from models.pricing.ensemble import ClusterModel, EnsembleConfig, EnsemblePricer
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.lmsr import LMSRBook
from models.pricing.quotes import MarketInfo
from models.pricing.replay import LiteralMap, MarketLiterals
from models.pricing.structure import Structure

BOOK_COLUMNS = ("open_price", "price", "q_yes", "q_no", "real_yes", "real_no", "shadow_yes", "shadow_no",
                "real_collected", "shadow_collected")


class NoFittedModels(LookupError):
    """No ensemble snapshot to quote from."""


def _json(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write(storage_url: str, relpath: str, data: bytes) -> str:
    fs, root = fsspec.core.url_to_fs(storage_url)
    path = f"{root.rstrip('/')}/{relpath}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as fh:
        fh.write(data)
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return path if protocol in ("file", "local") else f"{protocol}://{path}"


def _read(url: str) -> bytes:
    with fsspec.open(url, "rb") as fh:
        return fh.read()


@dataclass(frozen=True)
class MarketEntry:
    """A market of a cluster as stored with its model."""

    literals: MarketLiterals
    info: MarketInfo | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "market_ticker": self.literals.market_ticker,
            "literals": [[i, v] for i, v in self.literals.literals],
            "variable_ids": list(self.literals.variable_ids),
            "complement_ticker": self.literals.complement_ticker,
        }
        if self.info is not None:
            out.update({"event_ticker": self.info.event_ticker, "title": self.info.title,
                        "yes_sub_title": self.info.yes_sub_title, "no_sub_title": self.info.no_sub_title,
                        "mid": self.info.mid, "status": self.info.status, "close_time": self.info.close_time})
        return out


def save_cluster_model(
    conn: psycopg.Connection,
    storage_url: str,
    day: date,
    cluster: ClusterModel,
    markets: Sequence[MarketEntry],
    *,
    converged: bool,
    metrics: Mapping[str, object] | None = None,
    fit_config: Mapping[str, object] | None = None,
    notes: Sequence[str] = (),
    snapshots: Sequence[tuple[object, IsingModel]] = (),
    books: Mapping[str, LMSRBook] | None = None,
) -> str:
    """Write one fitted cluster (artifact + row); returns its model_version (a content hash). ``snapshots``
    (instant, model) are kept in the artifact for quotes over the session; ``books`` (contract label →
    LMSR book, synced to the final model) as ``book_names`` and ``book_state`` (columns
    :data:`BOOK_COLUMNS`)."""
    buf = io.BytesIO()
    corr = cluster.copula_corr if cluster.copula_corr is not None else np.zeros((0, 0))
    n = cluster.model.n
    times = np.array([np.datetime64(pd.Timestamp(t).tz_convert("UTC").tz_localize(None), "ns") for t, _ in snapshots],
                     dtype="datetime64[ns]")
    snap_h = np.array([m.h for _, m in snapshots]) if snapshots else np.zeros((0, n))
    snap_J = np.array([m.J for _, m in snapshots]) if snapshots else np.zeros((0, n, n))
    names = sorted(books or {})
    state = np.array([_book_row((books or {})[k]) for k in names]).reshape(len(names), len(BOOK_COLUMNS))
    np.savez_compressed(buf, h=cluster.model.h, J=cluster.model.J, corr=np.asarray(corr, dtype=float),
                        snap_times=times.astype("int64"), snap_h=snap_h, snap_J=snap_J,
                        book_names=np.array(names, dtype=str), book_state=state)
    data = buf.getvalue()
    market_json = [m.as_json() for m in markets]
    digest = hashlib.sha256(data + json.dumps(market_json, sort_keys=True, default=str).encode()).hexdigest()[:16]
    version = f"{cluster.cluster_id}@{day.isoformat()}#{digest}"
    url = _write(storage_url, f"models/ising/{day.isoformat()}/{cluster.cluster_id}/{digest}.npz", data)
    with conn.transaction():
        conn.execute(
            """INSERT INTO pricing.cluster_models (model_version, trading_day, cluster_id, n_variables, n_couplings,
                   variables, markets, artifact_url, converged, metrics, fit_config, notes)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (model_version) DO UPDATE SET fitted_at = now(), metrics = EXCLUDED.metrics,
                   converged = EXCLUDED.converged, notes = EXCLUDED.notes""",
            (version, day, cluster.cluster_id, cluster.model.n, int(np.count_nonzero(np.triu(cluster.model.J, 1))),
             json.dumps(list(cluster.variables)), json.dumps(_json(market_json)), url, converged,
             json.dumps(_json(dict(metrics or {}))), json.dumps(_json(dict(fit_config or {}))),
             json.dumps(list(notes))),
        )
    return version


def _book_row(book: LMSRBook) -> list[float]:
    return [book.open_price, book.price(), book.q_yes, book.q_no, *book.shares["real"], *book.shares["shadow"],
            book.collected["real"], book.collected["shadow"]]


def _cluster_artifact(conn: psycopg.Connection, model_version: str) -> tuple[str, list[str]]:
    row = conn.execute("SELECT artifact_url, variables FROM pricing.cluster_models WHERE model_version = %s",
                       (model_version,)).fetchone()
    if row is None:
        raise NoFittedModels(f"unknown cluster model {model_version!r}")
    return row[0], list(row[1])


def load_books(conn: psycopg.Connection, model_version: str) -> pd.DataFrame:
    """The LMSR books stored with a cluster fit: one row per contract (column ``contract``, then
    :data:`BOOK_COLUMNS`)."""
    url, _ = _cluster_artifact(conn, model_version)
    with np.load(io.BytesIO(_read(url))) as z:
        if "book_names" not in z.files:
            return pd.DataFrame(columns=["contract", *BOOK_COLUMNS])
        frame = pd.DataFrame(z["book_state"], columns=list(BOOK_COLUMNS))
        frame.insert(0, "contract", z["book_names"].tolist())
    return frame


def structured_model(h: np.ndarray, J: np.ndarray, variables: Sequence[str]) -> IsingModel:
    """A stored cluster's model on the nodes its variable ids define (the quotes' inference config)."""
    return IsingModel(h, J, InferenceConfig(), Structure.from_variable_ids(list(variables)))


def save_copula(conn: psycopg.Connection, storage_url: str, day: date, cluster_id: str, corr: np.ndarray,
                pairs_used: int, repaired: bool) -> str:
    """Store one cluster's copula correlation (artifact + row); returns its version."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(corr, dtype=float))
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    version = f"copula:{cluster_id}@{day.isoformat()}#{digest}"
    url = _write(storage_url, f"models/copula/{day.isoformat()}/{cluster_id}/{digest}.npy", data)
    off = np.abs(corr[~np.eye(corr.shape[0], dtype=bool)]) if corr.shape[0] > 1 else np.zeros(1)
    with conn.transaction():
        conn.execute(
            """INSERT INTO pricing.copula_fits (copula_version, trading_day, cluster_id, n_variables, pairs_used,
                   repaired, mean_abs_rho, artifact_url) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (copula_version) DO UPDATE SET fitted_at = now()""",
            (version, day, cluster_id, int(corr.shape[0]), pairs_used, repaired, float(off.mean()), url))
    return version


def load_copula(conn: psycopg.Connection, day: date, cluster_id: str) -> np.ndarray | None:
    """The newest copula correlation of a cluster on a day, or None."""
    row = conn.execute("SELECT artifact_url FROM pricing.copula_fits WHERE trading_day = %s AND cluster_id = %s "
                       "ORDER BY fitted_at DESC LIMIT 1", (day, cluster_id)).fetchone()
    if row is None:
        return None
    return np.load(io.BytesIO(_read(row[0])))


def save_classifier(conn: psycopg.Connection, storage_url: str, day: date, classifier: ParlayClassifier) -> str:
    data = classifier.to_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    version = f"catboost@{day.isoformat()}#{digest}"
    url = _write(storage_url, f"models/catboost/{day.isoformat()}/{digest}.cbm", data)
    with conn.transaction():
        conn.execute(
            """INSERT INTO pricing.classifiers (classifier_version, trading_day, trained, reason, metrics, artifact_url)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (classifier_version) DO UPDATE SET fitted_at = now()""",
            (version, day, classifier.trained, classifier.reason, json.dumps(_json(dict(classifier.metrics))), url),
        )
    return version


def save_ensemble(conn: psycopg.Connection, day: date, cluster_versions: Mapping[str, str],
                  classifier_version: str | None, ensemble_config: EnsembleConfig | None = None) -> str:
    cfg = ensemble_config or EnsembleConfig()
    payload = json.dumps({"clusters": dict(sorted(cluster_versions.items())), "classifier": classifier_version,
                          "config": cfg.__dict__}, sort_keys=True)
    version = f"ensemble@{day.isoformat()}#{hashlib.sha256(payload.encode()).hexdigest()[:16]}"
    with conn.transaction():
        conn.execute(
            """INSERT INTO pricing.ensembles
                   (ensemble_version, trading_day, cluster_versions, classifier_version, config)
               VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ensemble_version) DO UPDATE SET created_at = now()""",
            (version, day, json.dumps(dict(cluster_versions)), classifier_version, json.dumps(cfg.__dict__)),
        )
    return version


def save_pricer(conn: psycopg.Connection, storage_url: str, day: date, pricer: EnsemblePricer,
                snapshot_at: datetime | None = None) -> str:
    """Store every cluster of an in-memory pricer and an ensemble snapshot over them (e.g. a synthetic
    pricer for benchmarks); returns the ensemble version. ``snapshot_at``: also keep each cluster's model as
    its fit's snapshot at that instant, so a replay as of a later instant can quote from it (without one, a
    replay finds no model fitted by then)."""
    versions = {}
    for cid, cm in pricer.clusters.items():
        entries = [MarketEntry(ml, pricer.markets().get(t)) for t, ml in pricer.literals.markets.items()
                   if ml.cluster_id == cid]
        versions[cid] = save_cluster_model(conn, storage_url, day, cm, entries, converged=True,
                                           snapshots=[(pd.Timestamp(snapshot_at), cm.model)] if snapshot_at else [])
    clf = None
    if pricer.classifier is not None:
        clf = save_classifier(conn, storage_url, day, pricer.classifier)
    return save_ensemble(conn, day, versions, clf, pricer.config)


# ----------------------------------------------------------------------------- loading
_CACHE: dict[str, EnsemblePricer] = {}


def latest_ensemble(conn: psycopg.Connection, day: date | None = None) -> tuple[str, date] | None:
    if day is None:
        row = conn.execute(
            "SELECT ensemble_version, trading_day FROM pricing.ensembles ORDER BY trading_day DESC, created_at DESC "
            "LIMIT 1").fetchone()
    else:
        row = conn.execute(
            "SELECT ensemble_version, trading_day FROM pricing.ensembles WHERE trading_day = %s "
            "ORDER BY created_at DESC LIMIT 1", (day,)).fetchone()
    return (row[0], row[1]) if row else None


def _assemble(conn: psycopg.Connection, cluster_versions: Mapping[str, str], clf_version: str | None, version: str,
              cfg: EnsembleConfig) -> EnsemblePricer:
    clusters: dict[str, ClusterModel] = {}
    markets: dict[str, MarketLiterals] = {}
    variables: dict[str, tuple[str, ...]] = {}
    info: dict[str, MarketInfo] = {}
    rows = conn.execute(
        "SELECT cluster_id, variables, markets, artifact_url FROM pricing.cluster_models WHERE model_version = ANY(%s)",
        (list(cluster_versions.values()),)).fetchall()
    for cid, names, mjson, url in rows:
        with np.load(io.BytesIO(_read(url))) as z:
            h, J, corr = z["h"], z["J"], z["corr"]
        model = structured_model(h, J, names)
        clusters[cid] = ClusterModel(cid, tuple(names), model, corr if corr.size else None)
        variables[cid] = tuple(names)
        for m in mjson:
            ticker = m["market_ticker"]
            markets[ticker] = MarketLiterals(ticker, cid, tuple((int(i), bool(v)) for i, v in m["literals"]),
                                             tuple(m["variable_ids"]), m.get("complement_ticker"))
            info[ticker] = MarketInfo(ticker, cid, m.get("event_ticker"), m.get("title"), m.get("yes_sub_title"),
                                      m.get("no_sub_title"), m.get("mid"), 0.5, m.get("status"), m.get("close_time"))
    classifier = None
    if clf_version:
        (url,) = conn.execute("SELECT artifact_url FROM pricing.classifiers WHERE classifier_version = %s",
                              (clf_version,)).fetchone()
        classifier = ParlayClassifier.from_bytes(_read(url))
    return EnsemblePricer(clusters, LiteralMap(markets, variables), info, classifier, version, cfg)


def assemble_pricer(conn: psycopg.Connection, cluster_versions: Mapping[str, str], classifier_version: str | None,
                    config: EnsembleConfig | None = None, version: str = "unsaved") -> EnsemblePricer:
    """A pricer over stored cluster models and classifier, without storing an ensemble snapshot."""
    return _assemble(conn, cluster_versions, classifier_version, version, config or EnsembleConfig())


def load_pricer(conn: psycopg.Connection, storage_url: str | None = None, day: date | None = None,
                version: str | None = None) -> EnsemblePricer:
    """The newest ensemble snapshot (of ``day`` when given, or exactly ``version``), cached by version."""
    del storage_url  # artifact URLs are absolute; kept for symmetry with the savers
    if version is None:
        found = latest_ensemble(conn, day)
        if found is None:
            where = f" for {day}" if day else ""
            raise NoFittedModels(f"no fitted pricing models{where}: run the pipeline first "
                                 "(`parlay run`) or materialize the `pricing` assets in the Dagster UI")
        version = found[0]
    if version in _CACHE:
        return _CACHE[version]
    row = conn.execute(
        "SELECT cluster_versions, classifier_version, config FROM pricing.ensembles WHERE ensemble_version = %s",
        (version,)).fetchone()
    if row is None:
        raise NoFittedModels(f"unknown ensemble version {version!r}")
    cluster_versions, clf_version, cfg_json = row
    cfg = EnsembleConfig(**{k: v for k, v in (cfg_json or {}).items() if k in EnsembleConfig.__dataclass_fields__})
    pricer = _assemble(conn, cluster_versions, clf_version, version, cfg)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[version] = pricer
    return pricer


def load_cluster_pricer(conn: psycopg.Connection, model_version: str) -> EnsemblePricer:
    """A pricer over one stored cluster model alone (for checks on a fresh fit)."""
    row = conn.execute("SELECT cluster_id FROM pricing.cluster_models WHERE model_version = %s",
                       (model_version,)).fetchone()
    if row is None:
        raise NoFittedModels(f"unknown cluster model {model_version!r}")
    return _assemble(conn, {row[0]: model_version}, None, model_version, EnsembleConfig())


def load_snapshots(conn: psycopg.Connection, model_version: str) -> list[tuple[pd.Timestamp, IsingModel]]:
    """The (instant, model) snapshots stored with a cluster fit, in time order."""
    url, variables = _cluster_artifact(conn, model_version)
    with np.load(io.BytesIO(_read(url))) as z:
        if "snap_times" not in z.files:
            return []
        times, hs, Js = z["snap_times"], z["snap_h"], z["snap_J"]
    structure = Structure.from_variable_ids(list(variables))
    return [(pd.Timestamp(int(t), tz="UTC"), IsingModel(h, J, InferenceConfig(), structure))
            for t, h, J in zip(times, hs, Js, strict=True)]



# ----------------------------------------------------------------------------- point in time
_SNAPSHOT_CACHE: dict[str, list[tuple[pd.Timestamp, IsingModel]]] = {}


def _cached_snapshots(conn: psycopg.Connection, model_version: str) -> list[tuple[pd.Timestamp, IsingModel]]:
    if model_version not in _SNAPSHOT_CACHE:
        if len(_SNAPSHOT_CACHE) > 64:
            _SNAPSHOT_CACHE.clear()
        _SNAPSHOT_CACHE[model_version] = load_snapshots(conn, model_version)
    return _SNAPSHOT_CACHE[model_version]


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def books_as_of(conn: psycopg.Connection, day: date, tickers: Sequence[str],
                when: datetime) -> dict[str, tuple[datetime, float | None]]:
    """Per market, the latest reliable book state stamped at or before ``when`` on ``day``
    (``raw.reliable_orderbook_tops``): its instant and mid (None when one side is empty)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (market_ticker) market_ticker, ts, yes_bid, no_bid
           FROM raw.reliable_orderbook_tops
           WHERE trading_day = %s AND market_ticker = ANY(%s) AND ts <= %s
           ORDER BY market_ticker, ts DESC""", (day, list(tickers), _utc(when))).fetchall()
    out: dict[str, tuple[datetime, float | None]] = {}
    for t, ts, yes_bid, no_bid in rows:
        mid = float((yes_bid + (1 - no_bid)) / 2) if yes_bid is not None and no_bid is not None else None
        out[t] = (ts, mid)
    return out


def as_of_pricer(conn: psycopg.Connection, day: date, when: datetime,
                 base: EnsemblePricer | None = None,
                 snapshots: Mapping[str, Sequence[tuple[pd.Timestamp, IsingModel]]] | None = None) -> EnsemblePricer:
    """The pricer as it stood at ``when`` during ``day``'s replay, from data stamped at or before ``when`` only.

    * Each cluster's Ising model is the fit's last snapshot at or before ``when`` (snapshots every 15 min of
      the session; a snapshot holds every event up to its instant). A cluster with no snapshot by then is
      left out: its markets are not quotable yet.
    * Market mids are the latest reliable book states at or before ``when``; a market is ``active`` until its
      close time, ``closed`` after it.
    * Members fitted on the whole day are left out: the Gaussian copula (its correlation is estimated from
      the day's price changes) and the day's CatBoost classifier (trained on the day's settled parlays); a
      classifier of an earlier day is used when there is one. The ensemble weights are the configured
      defaults, not the ones chosen on the day's held-back parlays.

    ``base``: the day's stored ensemble (default: the newest of ``day``). ``snapshots``: per cluster, (instant,
    model) snapshots to use instead of the stored fits' (e.g. an in-memory refit for an ablation)."""
    when = _utc(when)
    base = base or load_pricer(conn, day=day)
    row = conn.execute("SELECT cluster_versions FROM pricing.ensembles WHERE ensemble_version = %s",
                       (base.version,)).fetchone()
    cluster_versions: Mapping[str, str] = row[0] if row else {}
    cutoff = pd.Timestamp(when)
    clusters: dict[str, ClusterModel] = {}
    for cid, cm in base.clusters.items():
        version = cluster_versions.get(cid)
        if snapshots is not None:
            snaps = list(snapshots.get(cid, ()))
        else:
            snaps = _cached_snapshots(conn, version) if version else []
        at = [m for ts, m in snaps if ts <= cutoff]
        if at:
            clusters[cid] = ClusterModel(cid, cm.variables, at[-1], None)
    tickers = sorted(base.markets())
    books = books_as_of(conn, day, tickers, when)
    info: dict[str, MarketInfo] = {}
    for t, m in base.markets().items():
        close = datetime.fromisoformat(m.close_time) if m.close_time else None
        status = "active" if close is None or _utc(close) > when else "closed"
        mid = books[t][1] if t in books else None
        info[t] = MarketInfo(t, m.cluster_id, m.event_ticker, m.title, m.yes_sub_title, m.no_sub_title, mid,
                             m.probability, status, m.close_time)
    earlier = conn.execute(
        """SELECT e.classifier_version FROM pricing.ensembles e WHERE e.trading_day < %s
             AND e.classifier_version IS NOT NULL ORDER BY e.trading_day DESC, e.created_at DESC LIMIT 1""",
        (day,)).fetchone()
    classifier = None
    if earlier:
        (url,) = conn.execute("SELECT artifact_url FROM pricing.classifiers WHERE classifier_version = %s",
                              (earlier[0],)).fetchone()
        classifier = ParlayClassifier.from_bytes(_read(url))
    defaults = EnsembleConfig()
    cfg = replace(base.config, ising_weight=defaults.ising_weight, copula_weight=defaults.copula_weight,
                  catboost_weight=defaults.catboost_weight, independence_weight=defaults.independence_weight)
    return EnsemblePricer(clusters, base.literals, info, classifier, f"{base.version}@{when.isoformat()}", cfg,
                          snapshot_of=base.version)
