"""`parlay run` as a user meets it: runs that belong to the code location `parlay` (what the UI's Jobs page
shows, read through Dagster's GraphQL API), and an empty day refused in one line before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_corrupted_capture import DAY, game

pytestmark = pytest.mark.e2e
PARLAY = str(Path(sys.executable).with_name("parlay"))

JOBS_QUERY = """
query {
  repositoryOrError(repositorySelector: {repositoryLocationName: "parlay", repositoryName: "__repository__"}) {
    __typename
    ... on Repository { location { name } pipelines { name runs { runId status tags { key value } } } }
    ... on PythonError { message }
  }
}
"""


def test_empty_recorded_day_is_refused_in_one_line(captures_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PARLAY_HOME": str(tmp_path)}
    proc = subprocess.run([PARLAY, "run", "--source", "recorded", "--captures", str(captures_dir),
                           "--date", "2026-03-09"], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: no data for 2026-03-09 from recorded"), lines[0]
    assert "Traceback" not in proc.stderr and "passed" not in proc.stderr
    assert not (tmp_path / ".data" / "dagster_home").exists()  # nothing ran, no instance touched


def test_parlay_run_runs_are_listed_under_the_code_location_parlay(fresh_database_url: str, tmp_path: Path,
                                                                   monkeypatch) -> None:
    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    captures = tmp_path / "captures"
    game(corrupt=False).write(captures)
    env = {**os.environ, "PARLAY_HOME": str(tmp_path), "PARLAY_DATABASE_URL": fresh_database_url,
           "PARLAY_STORAGE_URL": str(tmp_path / "lake")}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run([PARLAY, "run", "--source", "recorded", "--captures", str(captures), "--date", DAY],
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    at = proc.stderr.find("Traceback")
    assert at < 0, proc.stderr[max(0, at - 1500):at + 1500]

    from parlay.orchestration import prepare_environment

    monkeypatch.setenv("PARLAY_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    prepare_environment(fresh_database_url)  # the same DAGSTER_HOME and workspace.yaml as `parlay ui`
    home = Path(os.environ["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance, WorkspaceProcessContext(
            instance, WorkspaceFileTarget([str(home / "workspace.yaml")])) as process:
        result = execute_dagster_graphql(process.create_request_context(), JOBS_QUERY)
    repo = result.data["repositoryOrError"]
    assert repo["__typename"] == "Repository", repo
    assert repo["location"]["name"] == "parlay"
    runs = {p["name"]: p["runs"] for p in repo["pipelines"]}
    for job in ("main_prepare", "fit_clusters", "main_finish"):
        assert runs[job], f"no run of {job} under the code location parlay"
        assert all(r["status"] == "SUCCESS" for r in runs[job]), runs[job]
    tags = {t["key"]: t["value"] for t in runs["main_prepare"][0]["tags"]}
    assert tags["dagster/partition"] == DAY and tags["parlay/phase"] == "1"
