"""The experiment registry: tables, JSON payloads, claims computed on the output, determinism, the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.experiments import DEFAULT_HORIZON, EXPERIMENTS, TABLE_COLUMNS, ExperimentResult, run_experiment
from models.experiments.makers import MAKERS
from models.experiments.runner import CLAIM_NAMES, EXPERIMENT_CLAIMS, _scaling_claims, loss_scaling

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHAPE = {"experiment", "seed", "runs", "rounds", "horizon", "rho", "noise", "n", "per_market_loss",
         "per_market_loss_se", "total_loss"}
TINY = {"seed": 1, "runs": 2, "rounds": 40, "n_min": 3, "n_max": 4}


@pytest.fixture(scope="module")
def small_results() -> dict[str, ExperimentResult]:
    return {name: run_experiment(name, **TINY, noises=(0.0, 0.3)) if name == "noise"
            else run_experiment(name, **TINY) for name in EXPERIMENTS}


def _check_shape(obj: dict, n_len: int) -> None:
    assert set(obj) >= SHAPE
    for key in ("per_market_loss", "per_market_loss_se", "total_loss"):
        assert list(obj[key]) == list(MAKERS)
        assert all(len(v) == n_len for v in obj[key].values())


def test_registry() -> None:
    assert list(EXPERIMENTS) == ["loss-scaling", "convergence", "parlay-reversal", "noise"]
    assert set(EXPERIMENT_CLAIMS) == set(EXPERIMENTS)
    assert sorted(k for ks in EXPERIMENT_CLAIMS.values() for k in ks) == ["a", "a", "b", "c", "d", "e", "f"]
    with pytest.raises(ValueError):
        run_experiment("nope")
    with pytest.raises(ValueError):
        run_experiment("noise", workers=0)
    with pytest.raises(ValueError):
        run_experiment("loss-scaling", n_min=5, n_max=4)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_results_have_documented_columns_png_claims_and_payload(
    small_results: dict[str, ExperimentResult], name: str
) -> None:
    res = small_results[name]
    assert list(res.table.columns) == list(TABLE_COLUMNS[name])
    assert res.figure_png.startswith(PNG_SIGNATURE) and len(res.figure_png) > 1000
    assert (res.config["seed"], res.config["runs"], res.config["rounds"]) == (1, 2, 40)
    assert res.config["horizon"] == DEFAULT_HORIZON > 0.0  # the paper's setting by default
    assert "Brownian score process" in res.notes and "Claims" in res.notes
    assert [c.key for c in res.claims] == list(EXPERIMENT_CLAIMS[name])
    assert all(c.name == CLAIM_NAMES[c.key] and isinstance(c.holds, bool) for c in res.claims)
    assert all(("HOLDS" if c.holds else "DOES NOT HOLD") in c.line() for c in res.claims)
    p = res.payload
    json.dumps(p, allow_nan=False)
    assert p["experiment"] == name and p["horizon"] == DEFAULT_HORIZON
    if name == "parlay-reversal":
        assert p["n"] == [3, 4]
        _check_shape(p["with_parlays"], 2)
        _check_shape(p["base_only"], 2)
    elif name == "noise":
        assert p["noise"] == [0.0, 0.3] and p["n"] == [4]
        _check_shape(p, 2)
    elif name == "convergence":
        assert p["n"] == [4]
        _check_shape(p, 1)
        assert list(p["mae"]) == list(MAKERS) and len(p["round_start"]) == len(p["mae"]["ising_amm"])
    else:
        assert p["n"] == [3, 4]
        _check_shape(p, 2)
    assert [c["key"] for c in p["claims"]] == list(EXPERIMENT_CLAIMS[name])


def test_table_contents_are_consistent(small_results: dict[str, ExperimentResult]) -> None:
    scaling = small_results["loss-scaling"].table
    for _, row in scaling.iterrows():
        assert row["contracts"] == 2 ** row["n"] - 1
        assert row["total_loss"] == pytest.approx(row["per_market_loss"] * row["contracts"])
    for _, g in scaling.groupby("n"):
        assert sorted(g.loc[g["headline"], "rank"]) == [1, 2, 3, 4, 5]
    payload = small_results["loss-scaling"].payload
    ising = scaling[scaling["market_maker"] == "ising_amm"].sort_values("n")
    assert payload["per_market_loss"]["ising_amm"] == pytest.approx(ising["per_market_loss"].tolist())
    reversal = small_results["parlay-reversal"].table
    assert set(reversal.loc[reversal["regime"] == "base-only", "contracts"]) == {3, 4}
    conv = small_results["convergence"].table
    assert conv["round_start"].min() == 0 and conv["round_end"].max() == 40


def _scaling_table(per_market: list[float], ns: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"market_maker": "ising_amm", "n": ns, "per_market_loss": per_market,
                         "total_loss": [v * (2**n - 1) for v, n in zip(per_market, ns, strict=True)],
                         "ratio_to_previous_n": [np.nan] + [b / a for a, b in itertools.pairwise(per_market)]})


def test_scaling_claims_use_the_papers_bounds() -> None:
    """Issue 9: the scaling claim was read as 'the ratio is below 1'; the paper's is halving (flat total)."""
    ns = [4, 5, 6, 7]
    halving = [1e-3 * 0.5 ** i for i in range(4)]
    b, c = _scaling_claims(_scaling_table(halving, ns))
    assert b.holds and c.holds
    slower = [1e-3 * 0.7 ** i for i in range(4)]  # below 1 but not halving: (b) and (c) fail
    b, c = _scaling_claims(_scaling_table(slower, ns))
    assert not b.holds and not c.holds
    assert c.numbers["max_over_min"] > 1.5
    edge = [1e-3, 0.6e-3, 0.6e-3 * 0.41, 0.6e-3 * 0.41 * 0.5]
    b, _ = _scaling_claims(_scaling_table(edge, ns))
    assert b.holds


def test_experiments_are_deterministic_by_seed_and_workers() -> None:
    a = run_experiment("parlay-reversal", seed=3, runs=2, rounds=30, n_min=3, n_max=3)
    b = run_experiment("parlay-reversal", seed=3, runs=2, rounds=30, n_min=3, n_max=3)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = run_experiment("parlay-reversal", seed=4, runs=2, rounds=30, n_min=3, n_max=3)
    assert not a.table["per_market_loss"].equals(c.table["per_market_loss"])
    serial = loss_scaling(seed=2, runs=3, rounds=30, n_min=3, n_max=4, workers=1)
    parallel = loss_scaling(seed=2, runs=3, rounds=30, n_min=3, n_max=4, workers=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table, rtol=1e-9)


def test_static_setting_is_an_option_and_labeled() -> None:
    res = run_experiment("loss-scaling", horizon=0.0, runs=2, rounds=30, n_min=3, n_max=3)
    assert res.payload["horizon"] == 0.0 and res.payload["static"] is True
    assert "static truth" in res.payload["setting"] and "static truth" in res.notes
    gauss = res.table[res.table["market_maker"] == "gaussian_oracle"]["per_market_loss"].iloc[0]
    assert gauss == pytest.approx(0.0, abs=1e-9)  # the frozen round-0 law is the law when nothing moves


def _cli(args: list[str]) -> tuple[str, dict]:
    from parlay.cli import app

    result = CliRunner().invoke(app, ["experiment", *args])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_command_line_json_shape(tmp_path: Path, name: str) -> None:
    args = [name, "--runs", "2", "--rounds", "20", "--n-min", "3", "--n-max", "3", "--seed", "5", "--json",
            "--out", str(tmp_path)]
    if name == "noise":
        args += ["--noise", "0,0.2"]
    stdout, payload = _cli(args)
    assert f"=== {name} (quick, 2 runs × 20 rounds" in stdout and "Ising AMM" in stdout
    assert payload["experiment"] == name and payload["seed"] == 5 and payload["horizon"] == DEFAULT_HORIZON
    if name == "parlay-reversal":
        _check_shape(payload["with_parlays"], 1)
        _check_shape(payload["base_only"], 1)
    elif name == "noise":
        assert payload["noise"] == [0.0, 0.2]
        _check_shape(payload, 2)
    else:
        _check_shape(payload, 1)
    if name == "convergence":
        assert set(payload["mae"]) == set(MAKERS)
    assert Path(payload["csv"]).exists() and Path(payload["png"]).read_bytes().startswith(PNG_SIGNATURE)


def test_command_line_options() -> None:
    _, payload = _cli(["loss-scaling", "--runs", "2", "--rounds", "20", "--n-min", "3", "--n-max", "3", "--static",
                       "--rho", "0.3", "--noise", "0.1", "--json"])
    assert (payload["horizon"], payload["rho"], payload["noise"], payload["static"]) == (0.0, 0.3, 0.1, True)
    from parlay.cli import app

    bad = CliRunner().invoke(app, ["experiment", "loss-scaling", "--noise", "0.1,0.2"])
    assert bad.exit_code != 0 and "grid only for the noise experiment" in bad.output
    bad = CliRunner().invoke(app, ["experiment", "loss-scaling", "--static", "--horizon", "0.3"])
    assert bad.exit_code != 0
    helptext = CliRunner().invoke(app, ["experiment", "--help"]).output
    assert f"default {DEFAULT_HORIZON}" in helptext
    no_json = CliRunner().invoke(app, ["experiment", "noise", "--runs", "2", "--rounds", "10", "--n-min", "2",
                                       "--n-max", "2", "--noise", "0"])
    assert no_json.exit_code == 0 and not no_json.stdout.strip().splitlines()[-1].startswith("{")
