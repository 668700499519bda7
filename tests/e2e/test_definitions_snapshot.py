"""The whole Dagster definitions graph as text, compared with the committed snapshot, so that any change to
assets, checks, jobs, schedules, sensors or automation shows in review.

Update it after an intended change:  PARLAY_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/e2e/test_definitions_snapshot.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.e2e
SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "definitions.txt"


def _partitions(p: dg.PartitionsDefinition | None) -> str:
    if p is None:
        return "-"
    return f"dynamic:{p.name}" if isinstance(p, dg.DynamicPartitionsDefinition) else type(p).__name__


def _policy(policy: object) -> str:
    if policy is None:
        return "-"
    if hasattr(policy, "fail_window"):  # FreshnessPolicy.time_window
        warn = policy.warn_window.to_timedelta() if policy.warn_window else None
        return f"time_window(fail={policy.fail_window.to_timedelta()}, warn={warn})"
    return repr(policy)


def render(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    out = ["# Dagster definitions of the code location `parlay` (tests/e2e/test_definitions_snapshot.py)", "",
           "## assets: key | group | partitions | kinds | owners | automation | freshness | deps"]
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        condition = node.automation_condition.get_label() or type(node.automation_condition).__name__ \
            if node.automation_condition else "-"
        deps = ", ".join(sorted(k.to_user_string() for k in node.parent_keys)) or "-"
        out.append(" | ".join([key.to_user_string(), node.group_name, _partitions(node.partitions_def),
                               ",".join(sorted(node.kinds)) or "-", ",".join(node.owners) or "-", str(condition),
                               _policy(node.freshness_policy), deps]))
    out += ["", "## asset checks: asset:check | blocking"]
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        out.append(f"{check_key.asset_key.to_user_string()}:{check_key.name} | "
                   f"{'blocking' if spec.blocking else 'non-blocking'}")
    out += ["", "## jobs: name | partitions | assets"]
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        keys = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        out.append(f"{job.name} | {_partitions(job.partitions_def)} | {len(keys)}: {', '.join(keys)}")
    out += ["", "## schedules: name | cron | timezone | job | default status"]
    for s in sorted(defs.schedules or [], key=lambda s: s.name):
        out.append(f"{s.name} | {s.cron_schedule} | {s.execution_timezone} | {s.job_name} | "
                   f"{s.default_status.value}")
    out += ["", "## sensors: name | type | target | default status"]
    repo = defs.get_repository_def()
    for s in sorted(repo.sensor_defs, key=lambda s: s.name):
        target = ", ".join(sorted(t.job_name for t in s.targets)) if s.targets else "-"
        out.append(f"{s.name} | {s.sensor_type.value} | {target} | {s.default_status.value}")
    return "\n".join(out) + "\n"


def test_definitions_match_the_committed_snapshot() -> None:
    from dagster_project.definitions import defs

    text = render(defs)
    if os.environ.get("PARLAY_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "committed", "now"))
    assert not diff, ("the definitions changed; review the diff and update the snapshot with\n"
                      "  PARLAY_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/e2e/test_definitions_snapshot.py\n" + diff)
