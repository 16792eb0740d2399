"""The deployment files lint clean: the helm values against their schemas, the Dockerfile with
hadolint (both tools installed from PyPI by the dev group), and the settings they share with
the rest of the repository agree."""

from __future__ import annotations

import json
import os
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
CHART_ENV = "DAGSTER_HELM_CHART"


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


def _merge(base: Any, over: Any) -> Any:
    """Helm's merge of a values file over the chart's defaults: maps merge, the rest replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over
        }
    return over


def _offline(schema: Any) -> Any:
    """The chart's schema with its references to kubernetesjsonschema.dev (unreachable offline)
    dropped: Kubernetes objects are then checked as plain objects, every Dagster key as typed."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        return {
            k: _offline(v) for k, v in schema.items() if not (k == "$ref" and "://" in str(ref))
        }
    if isinstance(schema, list):
        return [_offline(v) for v in schema]
    return schema


@pytest.mark.skipif(
    not os.environ.get(CHART_ENV),
    reason=f"{CHART_ENV} names no unpacked dagster chart (`helm pull dagster/dagster --version "
    "1.13.27 --untar`): the chart's own schema is not in the repository",
)
def test_values_merged_with_the_chart_defaults_satisfy_the_chart_schema(tmp_path: Path) -> None:
    chart = Path(os.environ[CHART_ENV])
    merged = _merge(yaml.safe_load((chart / "values.yaml").read_text()), _values())
    (tmp_path / "merged.json").write_text(json.dumps(merged))
    schema = _offline(json.loads((chart / "values.schema.json").read_text()))
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    done = _check_jsonschema(tmp_path / "schema.json", tmp_path / "merged.json")
    assert done.returncode == 0, done.stdout + done.stderr


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
    assert (
        instance["storage"]["postgres"]["postgres_db"]["scheme"]
        == (_values()["postgresql"]["postgresqlScheme"])
    )
