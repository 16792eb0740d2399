"""The deployment files lint clean: the helm values against their schemas, the Dockerfile with
hadolint (both tools installed from PyPI by the dev group), and the settings they share with
the rest of the repository agree."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VALUES = ROOT / "deploy" / "values.yaml"
SCHEMA = ROOT / "deploy" / "values.schema.json"
DOCKERFILE = ROOT / "Dockerfile"


def _check_jsonschema(schema: Path, document: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--schemafile", str(schema), str(document)],
        capture_output=True,
        text=True,
    )


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True
    )


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_values_satisfy_the_deployment_schema() -> None:
    done = _check_jsonschema(SCHEMA, VALUES)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("runLauncher", "type"), "DefaultRunLauncher"),
        (("postgresql", "enabled"), True),
        (("dagster-user-deployments", "deployments", 0, "envSecrets"), []),
        (("runLauncher", "config", "k8sRunLauncher", "imagePulPolicy"), "Always"),
        (("dagsterDaemon", "runMonitoring", "enabled"), False),
        (
            (
                "dagsterDaemon",
                "runCoordinator",
                "config",
                "queuedRunCoordinator",
                "tagConcurrencyLimits",
            ),
            [{"key": "dagster/backfill", "limit": 8}],
        ),
    ],
)
def test_the_schema_refuses_a_broken_deployment(tmp_path: Path, path: tuple, value: Any) -> None:
    values = _values()
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    broken = tmp_path / "values.yaml"
    broken.write_text(yaml.safe_dump(values))
    assert _check_jsonschema(SCHEMA, broken).returncode == 1


def _chart_check() -> Any:
    spec = importlib.util.spec_from_file_location("check_chart", ROOT / "deploy" / "check_chart.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chart_check_merges_values_the_way_helm_does() -> None:
    chart = _chart_check()
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    over = {"a": {"c": [3], "e": True}}
    assert chart.merge(base, over) == {"a": {"c": [3], "e": True, "b": 1}, "d": "x"}


def test_chart_check_drops_only_remote_references() -> None:
    chart = _chart_check()
    schema = {
        "properties": {
            "pod": {"$ref": "https://kubernetesjsonschema.dev/v1.19.0/_definitions.json#/x"},
            "local": {"$ref": "#/$defs/Local"},
        },
        "anyOf": [{"$ref": "http://example.invalid/s.json", "type": "object"}],
    }
    assert chart.offline(schema) == {
        "properties": {"pod": {}, "local": {"$ref": "#/$defs/Local"}},
        "anyOf": [{"type": "object"}],
    }


def test_dockerfile_lints_clean() -> None:
    done = _hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_flags_an_unpinned_base_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text().replace("python:3.11.11-slim-bookworm", "python:latest"))
    done = _hadolint(bad)
    assert done.returncode == 1 and "DL3007" in done.stdout


def test_image_installs_the_lock_with_the_makefile_uv() -> None:
    text = DOCKERFILE.read_text()
    uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert uv and f"uv=={uv.group(1)}" in text
    syncs = re.findall(r"^RUN uv sync ([^\n\\&]+)", text, re.M)
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "pipelines.definitions" in text and "EXPOSE 3030" in text


def test_run_pods_get_the_pools_of_the_postgres_instance() -> None:
    instance = yaml.safe_load((ROOT / "pipelines" / "dagster.postgres.yaml").read_text())
    extra = _values()["additionalInstanceConfig"]
    assert extra["concurrency"]["pools"] == instance["concurrency"]["pools"]
    daemon = _values()["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    per_date = [t for t in queued["tagConcurrencyLimits"] if t["key"] == "dagster/partition"]
    assert per_date == [
        t
        for t in instance["concurrency"]["runs"]["tag_concurrency_limits"]
        if t["key"] == "dagster/partition"
    ]
    assert daemon["runMonitoring"]["enabled"] and "run_monitoring" not in extra  # one block
    assert (
        daemon["runMonitoring"]["freeSlotsAfterRunEndSeconds"]
        == instance["run_monitoring"]["free_slots_after_run_end_seconds"]
    )
    assert _values()["runLauncher"]["type"] == "K8sRunLauncher"
    assert (
        instance["storage"]["postgres"]["postgres_db"]["scheme"]
        == (_values()["postgresql"]["postgresqlScheme"])
    )


# How the chart turns its daemon keys into the instance's dagster.yaml (its
# templates/configmap-instance.yaml and helpers/instance/_run-coordinator.tpl).
_RUN_MONITORING = {
    "enabled": "enabled",
    "startTimeoutSeconds": "start_timeout_seconds",
    "cancelTimeoutSeconds": "cancel_timeout_seconds",
    "pollIntervalSeconds": "poll_interval_seconds",
    "maxResumeRunAttempts": "max_resume_run_attempts",
    "freeSlotsAfterRunEndSeconds": "free_slots_after_run_end_seconds",
}


def _rendered_instance(values: dict[str, Any]) -> dict[str, Any]:
    daemon = values["dagsterDaemon"]
    monitoring = {_RUN_MONITORING[k]: v for k, v in daemon["runMonitoring"].items()}
    return {"run_monitoring": monitoring, **values["additionalInstanceConfig"]}


def test_the_instance_the_chart_renders_is_valid_dagster_config() -> None:
    """Dagster's own config schemas accept what the values make of the instance: the run
    monitoring that frees a dead pod's slots, the pools, and the run queue's limits."""
    from dagster._core.instance.config import dagster_instance_config_schema, validate_config
    from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator

    values = _values()
    instance = _rendered_instance(values)
    checked = validate_config(dagster_instance_config_schema(), instance)
    assert checked.success, checked.errors
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator = validate_config(
        QueuedRunCoordinator.config_type(),
        {
            "max_concurrent_runs": queued["maxConcurrentRuns"],
            "tag_concurrency_limits": queued["tagConcurrencyLimits"],
        },
    )
    assert coordinator.success, coordinator.errors
    misspelt = dict(instance, run_monitoring={**instance["run_monitoring"], "free_slots": 30})
    assert not validate_config(dagster_instance_config_schema(), misspelt).success
