"""`parlay run --captures` takes several paths after one flag (files, folders, globs) and repeated flags."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parlay.cli import app
from tests.fakes.captures import CaptureWriter


def _day_captures(folder: Path, day: int) -> dict[str, Path]:
    """One game on 2026-03-<day> (evening in New York), its two moneylines in two files."""
    w = CaptureWriter(shape="both", t=datetime(2026, 3, day + 1, 0, 30, tzinfo=UTC))
    a, b = f"KXNBAGAME-26MAR{day:02d}AAABBB-AAA", f"KXNBAGAME-26MAR{day:02d}AAABBB-BBB"
    w.snapshot(a, a, [(40, 100)], [(57, 80)])
    w.snapshot(b, b, [(57, 70)], [(41, 60)])
    for i in range(5):
        w.delta(a, a, "yes", 40, 5 if i % 2 else -5)
        w.trade(b, b, 58, 7, taker="no")
    return w.write(folder)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[list[date], list[Path]]]:
    """The main job and everything that needs a database stubbed out: what `parlay run` would run."""
    from parlay import cli, orchestration

    seen: list[tuple[list[date], list[Path]]] = []

    def fake_run(source, days, captures=(), log=print, **_):  # type: ignore[no-untyped-def]
        seen.append((list(days), [Path(p) for p in captures]))
        return [orchestration.DayOutcome(d, "run", True) for d in days]

    monkeypatch.setattr(orchestration, "prepare_environment", lambda url=None: "postgresql://u@h:1/db")
    monkeypatch.setattr(orchestration, "run_main_job", fake_run)
    monkeypatch.setattr(orchestration, "where_to_look", lambda url: [])
    monkeypatch.setattr(cli, "_book_summary", lambda url, days: None)
    return seen


def test_several_paths_after_one_captures_flag_folder_file_and_glob(tmp_path: Path, calls) -> None:
    folder = tmp_path / "a"
    _day_captures(folder, 7)
    one_file = _day_captures(tmp_path / "b", 10)["KXNBAGAME-26MAR10AAABBB-AAA"]
    _day_captures(tmp_path / "c", 12)
    result = CliRunner().invoke(
        app,
        ["run", "--source", "recorded", "--captures", str(folder), str(one_file), str(tmp_path / "c" / "*.ndjson.gz")],
    )
    assert result.exit_code == 0, result.output
    ((days, captures),) = calls
    assert days == [date(2026, 3, 7), date(2026, 3, 10), date(2026, 3, 12)]
    assert captures == [folder, one_file, tmp_path / "c" / "*.ndjson.gz"]


def test_repeated_captures_flags_and_a_date_after_the_paths(tmp_path: Path, calls) -> None:
    _day_captures(tmp_path / "a", 7)
    _day_captures(tmp_path / "b", 10)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--source",
            "recorded",
            "--captures",
            str(tmp_path / "a"),
            "--captures",
            str(tmp_path / "b"),
            "--date",
            "2026-03-10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert calls == [([date(2026, 3, 10)], [tmp_path / "a", tmp_path / "b"])]


def test_a_glob_that_matches_nothing_and_stray_arguments_fail_in_one_line(tmp_path: Path, calls) -> None:
    _day_captures(tmp_path / "a", 7)
    result = CliRunner().invoke(
        app, ["run", "--source", "recorded", "--captures", str(tmp_path / "a"), str(tmp_path / "nope" / "*.ndjson")]
    )
    assert result.exit_code == 1 and "no capture path matches" in result.output, result.output
    result = CliRunner().invoke(app, ["run", "--source", "simulated", "stray"])
    assert result.exit_code != 0 and "unexpected extra argument" in result.output.lower(), result.output
    assert calls == []
