"""Validate deploy/values.yaml, merged over the official chart's defaults, against the chart's
own `values.schema.json`: `python deploy/check_chart.py <unpacked chart>` (get one with
`helm pull dagster/dagster --version 1.13.27 --untar`).

The chart is not in this repository and the build machine has no helm, so this runs where a
platform team has both; `make lint` checks the values against deploy/values.schema.json, the
keys we set typed as the chart types them. Exit status: check-jsonschema's (0 when valid).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

VALUES = Path(__file__).resolve().parent / "values.yaml"


def merge(base: Any, over: Any) -> Any:
    """Helm's merge of a values file over the chart's defaults: maps merge, the rest replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over
        }
    return over


def offline(schema: Any) -> Any:
    """The chart's schema with its references to remote schemas (kubernetesjsonschema.dev, not
    reachable offline) dropped: Kubernetes objects are then checked as plain objects, every
    Dagster key as typed."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        return {k: offline(v) for k, v in schema.items() if not (k == "$ref" and "://" in str(ref))}
    if isinstance(schema, list):
        return [offline(v) for v in schema]
    return schema


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    chart = Path(argv[0])
    merged = merge(
        yaml.safe_load((chart / "values.yaml").read_text()), yaml.safe_load(VALUES.read_text())
    )
    schema = offline(json.loads((chart / "values.schema.json").read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "merged.json").write_text(json.dumps(merged))
        (Path(tmp) / "schema.json").write_text(json.dumps(schema))
        checker = Path(sys.executable).parent / "check-jsonschema"
        args = ["--schemafile", f"{tmp}/schema.json", f"{tmp}/merged.json"]
        return subprocess.run([str(checker), *args]).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
