"""The experiment registry: tables with the documented columns, PNG figures, configs, determinism."""

from __future__ import annotations

import pandas as pd
import pytest

from models.experiments import EXPERIMENTS, QUICK, TABLE_COLUMNS, ExperimentResult, run_experiment
from models.experiments.makers import MAKERS
from models.experiments.runner import loss_scaling

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMMON = ["market_maker", "label", "oracle", "contracts", "rounds", "runs", "loss", "loss_se",
          "expected_loss", "expected_loss_se", "expected_loss_informed", "expected_loss_noise", "regret",
          "final_mae", "rank"]
DOCUMENTED = {
    "loss-scaling": ["n", *COMMON, "per_market_loss", "per_round_loss", "n_per_market_loss",
                     "expected_per_market_loss", "expected_per_round_loss", "n_expected_per_market_loss",
                     "expected_ratio_to_previous_n"],
    "convergence": ["round", "market_maker", "label", "oracle", "mae", "mae_se", "cum_loss",
                    "cum_expected_loss"],
    "parlay-reversal": ["regime", *COMMON, "per_market_loss", "expected_per_market_loss", "rank_non_oracle"],
    "noise": ["noise", *COMMON],
}


@pytest.fixture(scope="module")
def small_results() -> dict[str, ExperimentResult]:
    return {name: run_experiment(name, quick=True, seed=1, runs=2, rounds=60) for name in EXPERIMENTS}


def test_registry_names() -> None:
    assert list(EXPERIMENTS) == ["loss-scaling", "convergence", "parlay-reversal", "noise"]
    assert {k: list(v) for k, v in TABLE_COLUMNS.items()} == DOCUMENTED
    with pytest.raises(ValueError):
        run_experiment("nope")
    with pytest.raises(ValueError):
        run_experiment("noise", workers=0)


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_results_have_documented_columns_png_and_config(
    small_results: dict[str, ExperimentResult], name: str
) -> None:
    res = small_results[name]
    assert res.name == name
    assert list(res.table.columns) == DOCUMENTED[name]
    assert res.figure_png.startswith(PNG_SIGNATURE)
    assert len(res.figure_png) > 1000
    assert res.config["seed"] == 1
    assert res.config["runs"] == 2
    assert res.config["rounds"] == 60
    assert res.config["mode"] == "quick"
    assert res.config["makers"] == list(MAKERS)
    assert "Setup:" in res.notes
    assert res.checks and all(isinstance(v, bool) for v in res.checks.values())
    assert set(res.table["market_maker"]) == set(MAKERS)
    may_be_nan = [c for c in res.table.columns if c.endswith("_se") or "ratio" in c]
    assert not res.table.drop(columns=may_be_nan).isna().any().any()


def test_table_contents_are_consistent(small_results: dict[str, ExperimentResult]) -> None:
    scaling = small_results["loss-scaling"].table
    assert sorted(scaling["n"].unique().tolist()) == list(QUICK.ns)
    for _, row in scaling.iterrows():
        assert row["contracts"] == 2 ** row["n"] - 1
        assert row["per_market_loss"] == pytest.approx(row["loss"] / row["contracts"])
        n_l = row["n"] * row["expected_loss"] / row["contracts"]
        assert row["n_expected_per_market_loss"] == pytest.approx(n_l)
        assert row["per_round_loss"] == pytest.approx(row["loss"] / 60)
    for _, group in scaling.groupby("n"):
        assert sorted(group["rank"]) == [1, 2, 3, 4, 5]
    reversal = small_results["parlay-reversal"].table
    assert set(reversal["regime"]) == {"complete", "base-only"}
    assert set(reversal.loc[reversal["regime"] == "base-only", "contracts"]) == {QUICK.n}
    assert set(reversal.loc[~reversal["oracle"], "rank_non_oracle"]) == {1, 2}
    convergence = small_results["convergence"].table
    assert convergence["round"].min() == 0 and convergence["round"].max() == 60
    assert sorted(small_results["noise"].table["noise"].unique().tolist()) == list(QUICK.noises)


def test_experiments_are_deterministic_by_seed() -> None:
    a = run_experiment("parlay-reversal", seed=3, runs=2, rounds=40)
    b = run_experiment("parlay-reversal", seed=3, runs=2, rounds=40)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = run_experiment("parlay-reversal", seed=4, runs=2, rounds=40)
    assert not a.table["expected_loss"].equals(c.table["expected_loss"])


def test_worker_processes_give_the_same_table() -> None:
    serial = loss_scaling(seed=2, runs=2, rounds=40, ns=(3, 4), workers=1)
    parallel = loss_scaling(seed=2, runs=2, rounds=40, ns=(3, 4), workers=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    assert parallel.config["workers"] == 2


def test_command_line_prints_the_table(tmp_path) -> None:
    from typer.testing import CliRunner

    from parlay.cli import app

    result = CliRunner().invoke(app, ["experiment", "convergence", "--runs", "2", "--rounds", "30", "--seed", "5",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "=== convergence (quick, 2 runs × 30 rounds" in out
    assert "Ising AMM" in out
    assert (tmp_path / "convergence.csv").exists()
    assert (tmp_path / "convergence.png").read_bytes().startswith(PNG_SIGNATURE)
