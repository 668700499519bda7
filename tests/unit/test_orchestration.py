"""A failed step is reported by its cause, not by Dagster's wrapper around it."""

from __future__ import annotations

from dagster._utils.error import SerializableErrorInfo

from parlay.orchestration import root_cause


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
