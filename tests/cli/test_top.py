"""`metrics top` through the real `metrics` parser (metrics.cli.main), on the tiny warehouse of
tests/serve/test_top_rules.py, whose answers are computed there by hand."""

from __future__ import annotations

import json

import pytest

import metrics
from metrics.cli.main import build_parser, share_path_flags
from tests.serve.test_top_rules import DATA, I1, T1, T2, X1, X2, Y1


@pytest.fixture(scope="module")
def warehouse(hand_warehouse):
    return hand_warehouse(DATA)


@pytest.fixture
def run(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("METRICS_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("COLUMNS", "220")  # rich wraps at 80 columns when not on a terminal

    def run(*argv: str) -> tuple[int, str, str]:
        parser, _ = build_parser()
        share_path_flags(parser)
        args = parser.parse_args(argv)
        code = args.func(args)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


ASK = (
    "top", "--org", "org_a", "--project", "prj_a1", "--scope", "project", "--id", "prj_a1",
    "--since", "2026-04-01", "--until", "2026-04-03",
)  # fmt: skip


def test_json_for_programs_is_the_read_functions_body(run, warehouse):
    code, out, _ = run(*ASK, "--metric", "engagement_rate", "--limit", "3", "--min-views", "1")
    assert code == 0
    body = json.loads(out)
    assert body == metrics.connect(warehouse).top_performers(
        org_id="org_a",
        project_id="prj_a1",
        scope="project",
        id="prj_a1",
        metric="engagement_rate",
        since="2026-04-01",
        until="2026-04-03",
        limit=3,
        min_views=1,
    )
    assert [i["platform_post_id"] for i in body["items"]] == [I1, T1, T2]


def test_filters_reach_the_read_function(run):
    code, out, _ = run(*ASK, "--platform", "x", "--published", "in_window")
    assert code == 0 and [i["platform_post_id"] for i in json.loads(out)["items"]] == [X2]


def test_the_table_ranks_with_daily_sparklines(run):
    code, out, _ = run(*ASK, "--format", "table")
    assert code == 0
    assert "top 6 of 6 posts of project prj_a1 by views" in out
    rows = [line for line in out.splitlines() if "pst_" in line]
    assert [next(w for w in r.split() if w.startswith("pst_")) for r in rows] == [
        Y1, I1, T1, T2, X1, X2,
    ]  # fmt: skip
    # Two UTC days: Y1 all on the first (█▁), I1 all on the second (▁█), X2 none (▁▁).
    assert rows[0].rstrip(" │").endswith("█▁")
    assert rows[1].rstrip(" │").endswith("▁█")
    assert "300" in rows[0] and "0.33%" in rows[0]  # views and 1/300 as a rate


def test_a_422_prints_the_error_body_and_a_hint(run):
    code, out, err = run(*ASK, "--metric", "view")
    assert code == 2
    assert json.loads(out) == {"error": {"code": "VALIDATION", "message": "Unknown metric: view."}}
    assert "did you mean --metric views" in err
    code, out, _ = run(*ASK, "--limit", "0")
    assert code == 2 and "limit must be between 1 and 100" in json.loads(out)["error"]["message"]


def test_a_404_exits_2(run):
    code, out, _ = run(*ASK[:-4], "--id", "prj_b1")
    assert code == 2 and json.loads(out)["error"]["code"] == "NOT_FOUND"


def test_help_has_an_example(run, capsys):
    with pytest.raises(SystemExit):
        run("top", "--help")
    text = capsys.readouterr().out
    assert "example:" in text and "metrics top --org" in text and "--min-views" in text
