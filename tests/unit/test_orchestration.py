"""A failed step is reported by its cause, not by Dagster's wrapper around it."""

from __future__ import annotations

from datetime import date

import pytest
from dagster._utils.error import SerializableErrorInfo

from parlay.orchestration import DayOutcome, RunRecord, _merge, fit_workers, root_cause


def _wrapped(cls_name: str, message: str, cause: SerializableErrorInfo | None = None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=message, stack=[], cls_name=cls_name, cause=cause)


def test_root_cause_is_the_user_exception_behind_dagsters_wrapper() -> None:
    cause = _wrapped("LookupError", "LookupError: no fitted cluster models for 2026-03-09\n")
    error = _wrapped("DagsterExecutionStepExecutionError",
                     'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op '
                     '"pricing__ensemble":\n', cause)
    assert root_cause(error) == ("LookupError", "no fitted cluster models for 2026-03-09")


def test_root_cause_keeps_the_outermost_project_error_of_a_chain() -> None:
    network = _wrapped("ConnectError", "httpx.ConnectError: [Errno 111] Connection refused\n")
    exhausted = _wrapped("KalshiRetriesExhausted",
                         "parlay.kalshi.errors.KalshiRetriesExhausted: GET /markets failed after 4 attempts\n",
                         network)
    error = _wrapped("DagsterExecutionStepExecutionError", "Error occurred while executing op\n", exhausted)
    assert root_cause(error) == ("KalshiRetriesExhausted", "GET /markets failed after 4 attempts")


def test_a_plain_failure_keeps_its_message_on_one_line() -> None:
    assert root_cause(_wrapped("Failure", "dagster._core.definitions.events.Failure: ledger out of\nbalance\n")) \
        == ("Failure", "ledger out of balance")


def test_fit_workers_follow_the_setting_and_never_exceed_the_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLAY_FIT_WORKERS", "3")
    assert (fit_workers(6), fit_workers(2), fit_workers(1)) == (3, 2, 1)
    monkeypatch.setenv("PARLAY_FIT_WORKERS", "0")
    assert fit_workers(6) == 1
    monkeypatch.setenv("PARLAY_FIT_WORKERS", "two")
    with pytest.raises(SystemExit, match="PARLAY_FIT_WORKERS='two'"):
        fit_workers(6)


def test_a_failed_fit_in_a_worker_fails_the_day_and_keeps_every_record() -> None:
    day = date(2025, 12, 15)
    out = DayOutcome(day, "prepare", True, materialized=["raw/trades"])
    ok = DayOutcome(day, "", True, materialized=["pricing/ising_models[G1]"], runs=[RunRecord("fit", "r1", True, "G1")],
                    metadata={"pricing/ising_models[G1]": {"converged": True}})
    bad = DayOutcome(day, "", False, failed_steps=["pricing__ising_models: ValueError: x"],
                     runs=[RunRecord("fit", "r2", False, "G2")],
                     failed_checks=["pricing/ising_models:fit_converged (blocking)"])
    _merge(out, ok)
    assert out.success
    _merge(out, bad)
    assert not out.success
    assert out.materialized == ["raw/trades", "pricing/ising_models[G1]"]
    assert [r.run_id for r in out.runs] == ["r1", "r2"]
    assert out.failed_steps == ["pricing__ising_models: ValueError: x"]
    assert out.failed_checks == ["pricing/ising_models:fit_converged (blocking)"]
    assert out.metadata == {"pricing/ising_models[G1]": {"converged": True}}
