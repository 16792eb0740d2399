"""The command line's conventions, through the console script `pipelines.cli.main` in-process:
path flags before or after the subcommand, every option --help shows works, near-miss hints,
dates in our own words, keys for catalog organizations only, and an example in every --help."""

from __future__ import annotations

import argparse
import json

import pytest

from metrics import config
from metrics.cli import main as cli_main
from metrics.sample import generate
from pipelines import cli
from pipelines import run as pipeline_run
from tests.helpers.tiny import DATA


@pytest.fixture(scope="module")
def warehouse(hand_warehouse):
    return hand_warehouse(DATA)


@pytest.fixture
def metrics(warehouse, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("METRICS_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("METRICS_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("METRICS_KEYS_FILE", str(tmp_path / "keys.json"))

    def metrics(*argv: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as exit:  # argparse refusing the command line
            code = exit.code if isinstance(exit.code, int) else 2
        out = capsys.readouterr()
        return code, out.out, out.err

    return metrics


@pytest.mark.parametrize("before", [True, False])
def test_path_flags_before_or_after_the_subcommand(metrics, tmp_path, before):
    empty = tmp_path / "elsewhere"
    flags = ("--raw", str(empty))
    argv = (*flags, "backfill") if before else ("backfill", *flags)
    code, _, err = metrics(*argv)
    assert code == 2
    assert f"no landing dates under {empty};" in err


def test_a_flag_after_the_subcommand_wins_and_one_before_survives(metrics, tmp_path, monkeypatch):
    seen: list[object] = []

    def fake_run(*dates: object) -> int:
        seen.append(config.raw_dir())
        return 0

    monkeypatch.setattr(pipeline_run, "backfill_dates", lambda since, until: (since, until))
    monkeypatch.setattr(cli, "_run", fake_run)
    assert metrics("--raw", str(tmp_path / "a"), "backfill")[0] == 0
    assert metrics("--raw", str(tmp_path / "a"), "backfill", "--raw", str(tmp_path / "b"))[0] == 0
    assert seen == [tmp_path / "a", tmp_path / "b"]


def test_path_flags_after_a_nested_subcommand(metrics, tmp_path):
    code, out, _ = metrics("keys", "list", "--warehouse", str(tmp_path), "--raw", str(tmp_path))
    assert code == 0 and out.split() == ["ID", "ORG", "SCOPES", "CREATED", "STATE"]


def test_generate_passes_its_documented_options(metrics, tmp_path, monkeypatch):
    got: dict[str, object] = {}
    monkeypatch.setattr(generate, "generate", lambda out, **kw: got.update(out=out, **kw))
    monkeypatch.setattr(generate, "asdict", lambda summary: {})
    out = tmp_path / "x"
    code, _, _ = metrics("generate", "--out", str(out), "--seed", "5", "--accounts", "4")
    assert code == 0
    assert (got["out"], got["seed"], got["accounts"]) == (out, 5, 4)
    code, _, _ = metrics("--raw", str(tmp_path / "r"), "generate", "--days", "1")
    assert code == 0 and got["out"] == tmp_path / "r" and got["days"] == 1


def test_generate_help_lists_only_options_that_parse(metrics):
    _, sub = cli_main.build_parser()
    help_text = sub.choices["generate"].format_help()
    for option in ("--out", "--seed", "--accounts", "--posts-per-account", "--start", "--truth"):
        assert option in help_text
    code, _, err = metrics("generate", "--start", "2026-02-30")
    assert code == 2 and "'2026-02-30' is not a date; use YYYY-MM-DD" in err


ASK = ("query", "--org", "org_a", "--project", "prj_a1", "--scope", "project", "--id", "prj_a1")


def test_an_unknown_metric_keeps_the_spec_message_and_hints(metrics):
    code, out, err = metrics(*ASK, "--metrics", "view")
    assert code == 2
    assert json.loads(out)["error"]["message"] == "Unknown metric: view."
    assert "did you mean --metrics views?" in err
    code, out, err = metrics(*ASK, "--metrics", "zzzzzz")
    assert code == 2 and "known metrics: views, " in err


def test_an_unknown_scope_still_reaches_the_read_function(metrics):
    code, out, err = metrics(
        "query", "--org", "org_a", "--project", "prj_a1", "--scope", "projct", "--id", "prj_a1"
    )
    assert code == 2
    assert json.loads(out)["error"]["message"].startswith("Unknown scope: projct.")
    assert "did you mean --scope project or project_layer?" in err


def test_granularity_and_zone_hints(metrics):
    code, out, err = metrics(*ASK, "--granularity", "dya")
    assert code == 2 and "Unknown granularity: dya." in out and "--granularity day?" in err
    code, out, err = metrics(*ASK, "--tz", "PST")
    assert code == 2 and json.loads(out)["error"]["message"] == "Unknown time zone: PST."
    assert "PST is an abbreviation, not a zone; did you mean --tz America/Los_Angeles?" in err
    code, _, err = metrics(*ASK, "--tz", "Europe/Londn")
    assert code == 2 and "did you mean --tz Europe/London or " in err


def test_a_good_query_prints_no_hint(metrics):
    # A window inside the loaded data (the default one ends now, after as_of, and warns).
    window = ("--since", "2026-04-01", "--until", "2026-04-02")
    code, _, err = metrics(*ASK, "--metrics", "views", "--tz", "Europe/London", *window)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    "argv",
    [("nightly", "--date", "2026-13-01"), ("backfill", "--since", "2026-13-01")],
)
def test_dates_are_refused_in_our_words(metrics, argv):
    code, _, err = metrics(*argv)
    assert code == 2
    assert "'2026-13-01' is not a date; use YYYY-MM-DD, e.g. 2026-03-02" in err
    assert "fromisoformat" not in err


def test_keys_create_refuses_an_organization_not_in_the_catalog(metrics, tmp_path):
    code, out, err = metrics("keys", "create", "--org", "org_c")
    assert (code, out) == (2, "")
    assert err.startswith("Unknown organization org_c: not in the catalog of ")
    assert "did you mean --org org_" in err and "org_a" in err and "org_b" in err
    assert not (tmp_path / "keys.json").exists()
    code, out, err = metrics("keys", "create", "--org", "org_a", "--warehouse", str(tmp_path))
    assert code == 2 and "run `metrics backfill` first" in err


def test_the_readme_placeholder_organization_is_refused(metrics, tmp_path):
    code, out, err = metrics("keys", "create", "--org", "org_…", "--scope", "metrics:read")
    assert (code, out) == (2, "")
    assert err.startswith("Unknown organization org_…: not in the catalog of ")
    assert not (tmp_path / "keys.json").exists()


def test_keys_create_refuses_an_unknown_scope_with_a_hint(metrics, tmp_path):
    code, out, err = metrics("keys", "create", "--org", "org_a", "--scope", "metrics:write")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "Unknown scope metrics:write; a key may carry metrics:read, ads:read.",
        "did you mean --scope metrics:read?",
    ]
    assert not (tmp_path / "keys.json").exists()


def test_keys_list_has_a_header(metrics):
    assert metrics("keys", "create", "--org", "org_a")[0] == 0
    code, out, _ = metrics("keys", "list")
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["ID", "ORG", "SCOPES", "CREATED", "STATE"]
    assert row.split()[1:3] == ["org_a", "metrics:read"] and row.endswith("live")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield name, child
                yield from _subparsers(child)


def test_every_subcommand_help_has_an_example_and_the_path_flags():
    parser, sub = cli_main.build_parser()
    cli.register(sub)
    cli_main.share_path_flags(parser)
    found = dict(_subparsers(parser))
    assert {"generate", "query", "serve", "keys", "create", "backfill", "demo"} <= set(found)
    for name, child in found.items():
        text = child.format_help()
        assert "example:\n  metrics " in text, name
        assert "--raw" in text and "--warehouse" in text, name
