"""`metrics ls` through its argparse wiring, against tests/helpers/tiny.py; and the ids that
`make demo`'s next steps print exist in its warehouse."""

from __future__ import annotations

import argparse
import json

import pytest
from rich.console import Console

import metrics
from metrics.cli import demo
from metrics.cli import listing as cli_listing
from metrics.cli.main import build_parser
from tests.helpers.tiny import DATA, P1, P2, P4


@pytest.fixture(scope="module")
def warehouse(hand_warehouse):
    return hand_warehouse(DATA)


@pytest.fixture
def run(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("METRICS_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*argv: str) -> tuple[int, str]:
        parser = argparse.ArgumentParser(prog="metrics")
        cli_listing.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        code = args.func(args)
        return code, capsys.readouterr().out

    return run


def test_json_when_not_a_terminal(run):
    code, out = run("ls", "projects", "--org", "org_a")
    assert code == 0
    rows = json.loads(out)
    assert [(r["id"], r["name"]) for r in rows] == [("prj_a1", "Launch"), ("prj_a2", "Second")]
    assert rows[1]["first_data_at"] == "2026-04-01T10:00:00Z"  # PA2's one increment at 10:00
    assert rows[1]["last_data_at"] == "2026-04-01T11:00:00Z"


def test_posts_of_a_project_as_json_with_limit(run):
    code, out = run("ls", "posts", "--project", "prj_a1", "--format", "json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == [P2, P4, P1]
    code, out = run("ls", "posts", "--project", "prj_a1", "--limit", "1", "--format", "json")
    assert [r["id"] for r in json.loads(out)] == [P2]


def test_table_for_people(run):
    code, out = run("ls", "accounts", "--org", "org_a", "--project", "prj_a1", "--format", "table")
    assert code == 0
    assert "accounts (4)" in out
    line = next(line for line in out.splitlines() if "acc_tt" in line)
    for cell in ("@tt", "tiktok", "lyr_a1_sc", "2026-03-31T12:00:00Z", "2026-04-02T10:00:00Z"):
        assert cell in line
    no_data = next(line for line in out.splitlines() if "acc_yt" in line)
    assert "–" in no_data


def test_table_by_default_on_a_terminal(run, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    code, out = run("ls", "orgs")
    assert code == 0
    assert "orgs (2)" in out
    assert "instagram,tiktok,x,youtube" in out


def test_another_orgs_project_exits_2_with_the_error_body(run):
    code, out = run("ls", "layers", "--org", "org_a", "--project", "prj_b1")
    assert code == 2
    assert json.loads(out) == {
        "error": {"code": "NOT_FOUND", "message": "Project prj_b1 not found."}
    }


def test_registered_in_the_metrics_parser():
    parser, _ = build_parser()
    assert parser.parse_args(["ls", "orgs"]).func is cli_listing.cmd_ls


def test_demo_next_steps_use_ids_that_exist(warehouse):
    console = Console(record=True, width=400)
    demo.print_next_steps(warehouse, console)
    text = console.export_text()
    store = metrics.connect(warehouse)
    project = store.list("projects")[0]  # the first project with data, in id order
    flag = f"metrics --warehouse {warehouse}"  # not the default warehouse: named in each step
    org, prj = project["org_id"], project["id"]
    assert f"{flag} query --org {org} --project {prj} --scope project --id {prj}" in text
    assert f"{flag} keys create --org {org}" in text
    assert "make ui" in text and f"{flag} serve" in text
    assert f"/v1/projects/{prj}/metrics?scope=project&id={prj}" in text
    assert f"/v1/projects/{prj}/entities" in text
    assert f"{flag} ls projects" in text
    # the printed query answers, with the printed window
    since, until = (text.split(f"--{end} ")[1].split()[0] for end in ("since", "until"))
    assert since >= project["first_data_at"][:10] and until > project["last_data_at"][:10]
    body = store.query(
        org_id=org, project_id=prj, scope="project", id=prj, since=since, until=until
    )
    assert body["totals"]["views"] > 0
