"""`metrics query`, `metrics keys` through their argparse wiring (`cli_query.register`)."""

from __future__ import annotations

import argparse
import json
import stat

import pytest

import metrics
from metrics.cli import query as cli_query
from metrics.serve import keys
from tests.helpers.tiny import DATA, P1


@pytest.fixture(scope="module")
def warehouse(hand_warehouse):
    return hand_warehouse(DATA)


@pytest.fixture
def run(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("METRICS_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at 80 columns when not on a terminal

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="metrics")
        cli_query.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        code = args.func(args)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


ASK = ("query", "--org", "org_a", "--project", "prj_a1")


def test_query_prints_the_json_body(run, warehouse):
    code, out, _ = run(
        *ASK,
        "--scope",
        "project",
        "--id",
        "prj_a1",
        "--metrics",
        "views,likes",
        "--metrics",
        "followers",
        "--since",
        "2026-03-30",
        "--until",
        "2026-04-03",
        "--tz",
        "Europe/London",
    )
    assert code == 0
    assert json.loads(out) == metrics.connect(warehouse).query(
        org_id="org_a",
        project_id="prj_a1",
        scope="project",
        id="prj_a1",
        metrics=["views", "likes", "followers"],
        since="2026-03-30",
        until="2026-04-03",
        tz="Europe/London",
    )


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (("--scope", "project", "--id", "prj_a1", "--metrics", "spend"), "VALIDATION"),
        (("--scope", "galaxy", "--id", "prj_a1"), "VALIDATION"),
        (("--scope", "social_account", "--id", "acc_b"), "NOT_FOUND"),
    ],
)
def test_refusals_print_the_error_body_and_exit_2(run, argv, status):
    code, out, _ = run(*ASK, *argv)
    assert code == 2
    assert json.loads(out)["error"]["code"] == status


def test_table_format_shows_series_totals_and_sparklines(run):
    code, out, _ = run(
        *ASK,
        "--scope",
        "platform_post",
        "--id",
        P1,
        "--granularity",
        "hour",
        "--since",
        "2026-04-01T09:00:00Z",
        "--until",
        "2026-04-02T09:00:00Z",
        "--format",
        "table",
    )
    assert code == 0
    assert "2026-04-01T10:00:00Z" in out and "totals" in out and "post_count" in out
    assert "█" in out and "6.00%" in out  # P1's 10:00 hour: 6 engagements over 100 views


def test_sparkline():
    assert cli_query.sparkline([0, 1, 2]) == "▁▅█"
    assert cli_query.sparkline([5, 5]) == "▁▁"
    assert cli_query.sparkline([]) == ""
    assert len(cli_query.sparkline(list(range(1000)))) == 48


def test_keys_create_list_revoke(run, tmp_path):
    path = tmp_path / "keys.json"
    code, secret, err = run("keys", "create", "--org", "org_a", "--keys-file", str(path))
    secret = secret.strip()
    assert code == 0 and secret.startswith("lp_live_") and "only time" in err
    assert secret not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = keys.KeyRing(path).lookup(secret)
    assert record is not None and record.org_id == "org_a" and record.scopes == ("metrics:read",)
    code, listing, _ = run("keys", "list", "--keys-file", str(path))
    assert record.id in listing and "live" in listing
    assert run("keys", "revoke", record.id, "--keys-file", str(path))[0] == 0
    assert run("keys", "revoke", secret, "--keys-file", str(path))[0] == 1
    assert keys.KeyRing(path).lookup(secret) is None
    code, other, _ = run(
        "keys", "create", "--org", "org_a", "--scope", "ads:read", "--keys-file", str(path)
    )
    key = keys.KeyRing(path).lookup(other.strip())
    assert key is not None and key.scopes == ("ads:read",)
    assert run("keys", "create", "--org", "prj_a1", "--keys-file", str(path))[0] == 2


def test_keys_commands_refuse_to_overwrite_a_corrupt_file(run, tmp_path):
    path = tmp_path / "keys.json"
    assert run("keys", "create", "--org", "org_a", "--keys-file", str(path))[0] == 0
    corrupt = path.read_bytes().replace(b'"sha256": "', b'"sha256": "XYZ')
    path.write_bytes(corrupt)
    for argv, outcome in [
        (("keys", "create", "--org", "org_a"), "no key was created"),
        (("keys", "revoke", "0123456789ab"), "nothing was revoked"),
    ]:
        code, out, err = run(*argv, "--keys-file", str(path))
        assert (code, out) == (2, "")
        assert err.startswith(
            f"metrics keys: refusing to overwrite {path}, which would lose every key in it; "
            f"{outcome}. The keys file {path} is corrupt: entry 1 (key "
        )
        assert "sha256 must be 64 lowercase hex digits" in err
    code, out, err = run("keys", "list", "--keys-file", str(path))
    assert (code, out) == (2, "") and "sha256 must be 64 lowercase hex digits" in err
    assert path.read_bytes() == corrupt


def test_keys_create_refuses_an_unknown_scope(run, tmp_path):
    path = tmp_path / "keys.json"
    code, out, err = run(
        "keys", "create", "--org", "org_a", "--scope", "metrics:raed", "--keys-file", str(path)
    )
    assert (code, out) == (2, "")
    assert err == (
        "Unknown scope metrics:raed; a key may carry metrics:read, ads:read.\n"
        "did you mean --scope metrics:read?\n"
    )
    assert not path.exists()


def test_a_window_ending_after_as_of_is_warned_on_stderr(run) -> None:
    # The tiny warehouse's newest observation is acc_tt's follower snapshot of Apr 2 09:15.
    base = (*ASK, "--scope", "project", "--id", "prj_a1", "--since", "2026-04-01")
    code, _, err = run(*base, "--until", "2026-04-05")
    assert code == 0
    assert (
        "metrics query: the window ends at 2026-04-05T00:00:00Z, after as_of "
        "2026-04-02T09:15:00Z (the newest observation loaded)" in err
    )
    code, _, err = run(*base, "--until", "2026-04-02T09:00:00Z")
    assert (code, err) == (0, "")


def test_a_rate_without_positive_views_shows_a_dash_in_the_table(run) -> None:
    # P2 on Apr 2: views -20 (a decrease) and likes +4 that day; views 200 on Mar 31.
    code, out, _ = run(
        *ASK,
        "--scope", "platform_post", "--id", "pst_instagram_17900000000000001",
        "--metrics", "views,engagement_rate",
        "--since", "2026-03-31", "--until", "2026-04-03", "--format", "table",
    )  # fmt: skip
    assert code == 0
    rows = {line.split("│")[1].strip(" †"): line for line in out.splitlines() if "│ 2026-" in line}
    assert rows["2026-04-02"].split("│")[3].strip() == "–"  # -20 views: no base
    assert rows["2026-03-31"].split("│")[3].strip() == "5.00%"  # 10 likes / 200 views


def _table_rows(out: str) -> dict[str, list[str]]:
    """Bucket label (marks kept) -> its cells, from the series table of `--format table`."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0][:4] == "2026":
            rows[cells[0]] = cells[1:]
    return rows


def test_the_table_marks_buckets_after_as_of_and_dashes_unreported_metrics(run) -> None:
    # as_of is Apr 2 09:15, so the Apr 2 and Apr 3 buckets reach past it. The layer's accounts
    # are TikTok and Instagram, which never report impressions; both report reach (here 0).
    code, out, _ = run(
        *ASK, "--scope", "project_layer", "--id", "lyr_a1_sc",
        "--metrics", "views,impressions,reach",
        "--since", "2026-04-01", "--until", "2026-04-04", "--format", "table",
    )  # fmt: skip
    assert code == 0
    assert _table_rows(out) == {
        "2026-04-01": ["150", "–", "0"],  # P1 100 + 50
        "2026-04-02†": ["10", "–", "0"],  # P1 30, P2 -20
        "2026-04-03†": ["0", "–", "0"],
    }
    assert "† after as_of" in out


def test_compare_and_group_by_in_the_table(run) -> None:
    # prj_a1, Apr 1 .. Apr 3 against Mar 30 .. Apr 1: views 160 against 200 (P2's 200 on
    # Mar 31), shares 2 against 0; see tests/serve/test_compare_breakdown_rules.py.
    code, out, _ = run(
        *ASK, "--scope", "project", "--id", "prj_a1", "--metrics", "views,shares",
        "--since", "2026-04-01", "--until", "2026-04-03", "--compare", "previous_period",
        "--group-by", "platform", "--format", "table",
    )  # fmt: skip
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert [c.strip() for c in lines["views"].split("│")[2:5]] == ["160", "200", "▼ −40 (−20.0%)"]
    assert [c.strip() for c in lines["shares"].split("│")[2:5]] == ["2", "0", "▲ +2 (–)"]
    assert [c.strip() for c in lines["post_count"].split("│")[2:5]] == ["2", "1", "▲ +1 (+100.0%)"]
    assert [c.strip() for c in lines["tiktok"].split("│")[2:5]] == ["180", "2", "1"]
    assert [c.strip() for c in lines["instagram"].split("│")[2:5]] == ["-20", "0", "1"]


def test_format_csv_prints_the_series(run, warehouse) -> None:
    argv = (
        "--scope",
        "project",
        "--id",
        "prj_a1",
        "--since",
        "2026-04-01",
        "--until",
        "2026-04-03",
    )
    code, out, _ = run(*ASK, *argv, "--metrics", "views,likes", "--format", "csv")
    assert code == 0
    assert out == "bucket,views,likes,partial\r\n2026-04-01,150,5,\r\n2026-04-02,10,4,\r\n"
    code, out, _ = run(*ASK, *argv, "--compare", "yesterday", "--format", "csv")
    assert code == 2
    assert json.loads(out)["error"]["message"] == (
        "Unknown compare: yesterday. Use previous_period or previous_year."
    )
