"""The history store and its commands, each test on SQLite and on PostgreSQL.

`history_db` (conftest) is an empty SQLite file or a fresh PostgreSQL schema; the
PostgreSQL runs skip outside CI when no server is given (ISM3_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import ROOT
from history_support import HARBOR, NORTHWIND, derived, report, run, write
from ism3rules import __version__
from ism3rules.errors import HistoryError
from ism3rules.history import SCHEMA_VERSION, open_store
from ism3rules.history.schema import metadata
from ism3rules.report_check import canonical_json

QUARTERS = ("2025-09-30", "2025-12-31", "2026-03-31", "2026-06-30")


def _engine(url: str) -> sa.Engine:
    from ism3rules.history.store import locate

    return sa.create_engine(locate(url).url)


def _quarter_files(tmp_path: Path) -> list[Path]:
    return [write(tmp_path / f"northwind-{day}.json", report(NORTHWIND, day)) for day in QUARTERS]


def _recorded(history_db: str, tmp_path: Path) -> list[Path]:
    files = _quarter_files(tmp_path)
    run(["history", "record", *map(str, files), "--db", history_db], 0)
    return files


# -- record, list, show ---------------------------------------------------------------------

def test_record_list_show(history_db: str, tmp_path: Path) -> None:
    files = _quarter_files(tmp_path)
    out = run(["history", "record", *map(str, files), "--db", history_db], 0).output
    for number, (path, day) in enumerate(zip(files, QUARTERS, strict=True), start=1):
        assert f"{path}: recorded as run {number} (northwind, as of {day})" in out
    # the same report twice is a no-op
    again = run(["history", "record", str(files[1]), "--db", history_db], 0).output
    assert "already recorded as run 2" in again
    listing = json.loads(run(["history", "list", "-f", "json", "--db", history_db], 0).output)
    assert listing["schema"] == "ism3-runs/1"
    assert [r["run"] for r in listing["runs"]] == [1, 2, 3, 4]
    assert [r["as_of"] for r in listing["runs"]] == list(QUARTERS)
    assert listing["runs"][2]["levels"]["small-business"] == {"achieved": 3, "max": 3}
    assert listing["runs"][0]["previous_hash"] is None
    assert listing["runs"][1]["previous_hash"] == listing["runs"][0]["chain_hash"]
    for entry, path in zip(listing["runs"], files, strict=True):
        assert entry["report_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    table = run(["history", "list", "northwind", "--db", history_db], 0).output
    assert table.count("northwind") == 4 and "small-business" in table and "3/5" in table
    csv_out = run(["history", "list", "-f", "csv", "--db", history_db], 0).output
    assert csv_out.splitlines()[0].startswith("run,organization_id,")
    # show -f json gives back the report byte for byte
    shown = run(["history", "show", "3", "-f", "json", "--db", history_db], 0).output
    assert shown == files[2].read_text()
    table = run(["history", "show", "3", "--db", history_db], 0).output
    assert table.startswith("run 3: northwind as of 2026-03-31")
    assert "Northwind Traders (northwind)" in table
    markdown = run(["history", "show", "run:3", "-f", "markdown", "--db", history_db], 0).output
    assert markdown.startswith("#")


def test_record_takes_a_folder_of_reports(history_db: str, tmp_path: Path) -> None:
    _quarter_files(tmp_path)
    out = run(["history", "record", str(tmp_path), "--db", history_db], 0).output
    assert out.count("recorded as run") == 4


def test_record_refuses_every_report_if_one_is_bad(history_db: str, tmp_path: Path) -> None:
    files = _quarter_files(tmp_path)
    bad = report(NORTHWIND, QUARTERS[0])
    bad["profiles"][0]["achieved_level"] = 4
    write(files[2], bad)
    result = run(["history", "record", *map(str, files), "--db", history_db], 2)
    assert f"{files[2]}: the report does not match its own digests" in result.output
    assert "no runs recorded" in run(["history", "list", "--db", history_db], 0).output
    truncated = tmp_path / "cut.json"
    truncated.write_bytes(files[0].read_bytes()[:3000])
    assert "cut short (truncated)" in run(
        ["history", "record", str(truncated), "--db", history_db], 2).output
    plan = tmp_path / "plan.json"
    plan.write_text('{"schema": "ism3-plan/1"}')
    assert "expected an 'ism3-report/1' JSON report" in run(
        ["history", "record", str(plan), "--db", history_db], 2).output


def test_unknown_run_and_organization(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    assert "no run 9 (the last run is 4)" in run(
        ["history", "show", "9", "--db", history_db], 2).output
    assert "'nine' is not a run id" in run(["history", "show", "nine", "--db", history_db],
                                           2).output
    out = run(["history", "trend", "northwnd", "--db", history_db], 2).output
    assert "no runs of organization 'northwnd'" in out and "(did you mean 'northwind'?)" in out
    assert "no runs of organization 'acme'" in run(
        ["history", "list", "acme", "--db", history_db], 2).output
    out = run(["history", "trend", "northwind", "-p", "small-busines", "--db", history_db],
              2).output
    assert "profile 'small-busines' is not in the runs of northwind (did you mean " \
           "'small-business'?)" in out


# -- evaluate, batch, backfill --------------------------------------------------------------

def test_evaluate_record(history_db: str, tmp_path: Path) -> None:
    out_file = tmp_path / "r.json"
    result = run(["evaluate", str(HARBOR), "-f", "json", "-o", str(out_file), "--record",
                  "--db", history_db], 0)
    assert "ism3: recorded as run 1 (harbor-clinic, as of 2026-10-15)" in result.output
    # --db implies --record; the same evaluation is recorded once
    result = run(["evaluate", str(HARBOR), "-f", "json", "--db", history_db], 0)
    assert "already recorded as run 1" in result.stderr
    assert json.loads(result.stdout)["schema"] == "ism3-report/1"
    shown = run(["history", "show", "1", "-f", "json", "--db", history_db], 0).output
    assert shown == out_file.read_text()


def test_evaluate_record_with_a_missed_target_still_records(history_db: str) -> None:
    result = run(["evaluate", str(HARBOR), "-p", "small-business", "--require",
                  "small-business=2", "--record", "--db", history_db], 1)
    assert "recorded as run 1" in result.output and "target not met" in result.output


def test_batch_record(history_db: str, tmp_path: Path) -> None:
    result = run(["batch", str(ROOT / "evidence"), "-j", "1", "-q", "-f", "json", "--record",
                  "--db", history_db], 0)
    assert "ism3: recorded 2 run(s), 0 already recorded" in result.stderr
    summary = json.loads(result.stdout)
    assert all(b["report"] is None for b in summary["bundles"])   # no scratch paths shown
    runs = json.loads(run(["history", "list", "-f", "json", "--db", history_db], 0).output)
    assert sorted(r["organization"]["id"] for r in runs["runs"]) == ["harbor-clinic",
                                                                      "northwind"]
    assert {r["source"] for r in runs["runs"]} == {"batch"}
    # with --reports-dir the files stay, and each is the run's report byte for byte
    reports = tmp_path / "reports"
    result = run(["batch", str(ROOT / "evidence"), "-j", "1", "-q", "--reports-dir",
                  str(reports), "--record", "--db", history_db], 0)
    assert "recorded 0 run(s), 2 already recorded" in result.stderr
    by_sha = {r["report_sha256"] for r in runs["runs"]}
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in reports.glob("*.json")} == by_sha


def test_backfill(history_db: str) -> None:
    out = run(["history", "backfill", str(NORTHWIND), "--every", "month", "--db", history_db],
              0).output
    assert "6 evaluation(s) of northwind: 6 recorded, 0 already recorded" in out
    for day in ("2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31",
                "2026-06-30"):
        assert day in out
    again = run(["history", "backfill", str(NORTHWIND), "--every", "month", "--db",
                 history_db], 0).output
    assert "0 recorded, 6 already recorded" in again
    out = run(["history", "backfill", str(NORTHWIND), "--every", "quarter", "--from",
               "2025-07-01", "--to", "2026-06-30", "-p", "small-business", "--db", history_db],
              0).output
    assert "4 evaluation(s)" in out and "small-business 1/3" in out and "small-business 3/3" in out
    runs = json.loads(run(["history", "list", "-f", "json", "--db", history_db], 0).output)
    assert {r["source"] for r in runs["runs"]} == {"backfill"}
    # each run is what `evaluate --as-of` gives
    from ism3rules.api import evaluate_bundle
    from datetime import date

    expected = canonical_json(evaluate_bundle(NORTHWIND, as_of=date(2026, 2, 28)))
    second = next(r for r in runs["runs"] if r["as_of"] == "2026-02-28")
    assert run(["history", "show", str(second["run"]), "-f", "json", "--db", history_db],
               0).output == expected


def test_backfill_needs_a_period(history_db: str, tmp_path: Path) -> None:
    from conftest import write_evidence

    bundle = write_evidence(tmp_path / "b", {"OSP-3": (True, ["activity"])})
    out = run(["history", "backfill", str(bundle), "--every", "week", "--db", history_db],
              2).output
    assert "no evidence period to backfill across" in out and "--from and --to" in out
    out = run(["history", "backfill", str(bundle), "--every", "week", "--from", "2026-02-25",
               "--to", "2026-03-10", "--db", history_db], 0).output
    assert "3 evaluation(s)" in out
    assert [line[:10] for line in out.splitlines()[2:5]] == ["2026-03-01", "2026-03-08",
                                                             "2026-03-10"]


# -- trend and portfolio ----------------------------------------------------------------------

def test_trend(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    document = json.loads(run(["history", "trend", "northwind", "-f", "json", "--db",
                               history_db], 0).output)
    assert document["schema"] == "ism3-trend/1"
    assert [p["as_of"] for p in document["points"]] == list(QUARTERS)
    small = [p["levels"]["small-business"] for p in document["points"]]
    assert [s["achieved"] for s in small] == [1, 1, 3, 3]
    assert [s["change"] for s in small] == ["new", "same", "up", "same"]
    assert document["points"][2]["capabilities"]["optimized"] == 4
    assert sum(document["points"][0]["capabilities"].values()) == 45
    assert not any(p["criteria_changed"] for p in document["points"])
    table = run(["history", "trend", "northwind", "-p", "small-business", "--db", history_db],
                0).output
    assert "3/3 ↑" in table and "cloud-saas" not in table
    csv_out = run(["history", "trend", "northwind", "-f", "csv", "-p", "small-business",
                   "--db", history_db], 0).output.splitlines()
    assert csv_out[0].startswith("as_of,run,small-business,none,initial,")
    assert csv_out[3].startswith("2026-03-31,3,3,13,17,5,4,2,4,")


def test_trend_marks_changed_criteria(history_db: str, tmp_path: Path) -> None:
    """A level that moved because the profile or the rules moved is marked, not progress."""
    profile = tmp_path / "small-business.yaml"
    profile.write_text((ROOT / "profiles" / "small-business.yaml").read_text()
                       .replace("OSP-10: {capability: initial", "OSP-10: {capability: optimized"))
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    first = sorted(rules.glob("*.yaml"))[0]
    first.write_text(first.read_text() + "\n# edited\n")
    docs = [report(HARBOR, "2026-06-30", ("small-business",)),
            report(HARBOR, "2026-09-30", (str(profile),)),
            report(HARBOR, "2026-10-15", (str(profile),), rules_dir=rules)]
    files = [write(tmp_path / f"h{i}.json", d) for i, d in enumerate(docs)]
    run(["history", "record", *map(str, files), "--db", history_db], 0)
    document = json.loads(run(["history", "trend", "harbor-clinic", "-f", "json", "--db",
                               history_db], 0).output)
    marks = [p["criteria_changed"] for p in document["points"]]
    assert marks == [[], ["profile small-business"], ["rules"]]
    levels = [p["levels"]["small-business"]["achieved"] for p in document["points"]]
    assert levels == [1, 0, 0]     # the drop is the stricter profile's, and is marked
    table = run(["history", "trend", "harbor-clinic", "--db", history_db], 0).output
    assert "* profile small-business" in table and "* rules" in table
    assert "may have moved because the criteria moved" in " ".join(table.split())
    page = run(["history", "trend", "harbor-clinic", "-f", "html", "--db", history_db],
               0).output
    assert page.count('class="criteria-changed"') == 2
    assert page.count('class="criteria-changed-point"') == 2      # small-business once, rules


def test_portfolio(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    clinic = report(HARBOR)
    clinic_old = derived(clinic, as_of="2026-06-30")
    clinic_old["profiles"][2]["levels"][0]["met"] = False     # the earlier run was below
    clinic_old["profiles"][2]["achieved_level"] = 0
    for finding in clinic["findings"]:   # as the review issue rates and tracks findings
        finding["severity"] = "high"
    clinic["findings"][0]["status"] = "closed"
    clinic["findings"][1]["severity"] = None
    files = [write(tmp_path / "c1.json", clinic_old), write(tmp_path / "c2.json", clinic)]
    run(["history", "record", *map(str, files), "--db", history_db], 0)
    document = json.loads(run(["history", "portfolio", "-f", "json", "--db", history_db],
                              0).output)
    assert document["schema"] == "ism3-portfolio/1"
    orgs = {o["id"]: o for o in document["organizations"]}
    assert list(orgs) == ["harbor-clinic", "northwind"]
    assert orgs["northwind"]["as_of"] == "2026-06-30" and orgs["northwind"]["runs"] == 4
    assert orgs["northwind"]["levels"]["small-business"] == {
        "achieved": 3, "max": 3, "previous": 3, "trend": "same", "criteria_changed": False}
    assert orgs["harbor-clinic"]["levels"]["small-business"]["trend"] == "up"
    assert orgs["harbor-clinic"]["findings"] == {"open": 2, "by_severity": {"high": 1,
                                                                            "unrated": 1}}
    table = run(["history", "portfolio", "-p", "small-business", "--db", history_db],
                0).output
    assert "1/3 ↑" in table and "3/3 →" in table and "2 (1 high, 1 unrated)" in table
    assert "cloud-saas" not in table
    csv_out = run(["history", "portfolio", "-f", "csv", "--db", history_db], 0).output
    assert "small-business_trend" in csv_out.splitlines()[0]
    page = run(["history", "portfolio", "-f", "html", "--db", history_db], 0).output
    assert "<script" not in page and "1 / 3 ↑" in page


def test_portfolio_of_an_empty_store(history_db: str) -> None:
    assert run(["history", "portfolio", "--db", history_db], 0).output == "no runs recorded\n"


def test_untrusted_names_are_escaped(history_db: str, tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>\x1b[2J & "quotes"'
    documents = [derived(report(NORTHWIND, day), org="evil", name=hostile)
                 for day in QUARTERS[:2]]
    for document in documents:       # a profile id that a spreadsheet would run
        document["profiles"][0]["id"] = document["inputs"]["profiles"][0]["id"] = "=cmd|x"
    files = [write(tmp_path / f"e{i}.json", d) for i, d in enumerate(documents)]
    run(["history", "record", *map(str, files), "--db", history_db], 0)
    for command in (["history", "trend", "evil"], ["history", "portfolio"]):
        page = run([*command, "-f", "html", "--db", history_db], 0).output
        assert "<script" not in page and "&lt;script&gt;" in page
        assert "Content-Security-Policy" in page and "default-src 'none'" in page
        table = run([*command, "--db", history_db], 0).output
        assert "\x1b" not in table
        csv_out = run([*command, "-f", "csv", "--db", history_db], 0).output
        assert "\x1b" not in csv_out and ",=cmd" not in csv_out and "'=cmd|x" in csv_out


# -- verify: the chain detects what was deleted or altered --------------------------------------

def _unguard(engine: sa.Engine) -> None:
    """Remove the append-only triggers, as someone with direct access to the database could."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for table in ("ism3_runs", "ism3_run_reports", "ism3_run_processes",
                          "ism3_run_profiles", "ism3_run_findings", "ism3_run_gaps"):
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def _delete_run(engine: sa.Engine, run_id: int) -> None:
    with engine.begin() as conn:
        for table in ("ism3_run_reports", "ism3_run_processes", "ism3_run_profiles",
                      "ism3_run_findings", "ism3_run_gaps"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE run_id = {run_id}")
        conn.exec_driver_sql(f"DELETE FROM ism3_runs WHERE id = {run_id}")


def test_verify_intact(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    run(["evaluate", str(HARBOR), "--db", history_db], 0)
    out = run(["history", "verify", "--db", history_db], 0).output
    assert "harbor-clinic: 1 run(s), chain intact" in out
    assert "northwind: 4 run(s), chain intact" in out
    assert "OK: 2 chain(s), 5 run(s) verified" in out
    listing = json.loads(run(["history", "list", "northwind", "-f", "json", "--db", history_db],
                             0).output)
    assert f"chain intact, head {listing['runs'][-1]['chain_hash']}" in out
    assert "northwind: 4 run(s)" in run(["history", "verify", "northwind", "--db", history_db],
                                        0).output


def test_the_store_is_append_only(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    engine = _engine(history_db)
    for statement in ("UPDATE ism3_runs SET as_of = '2030-01-01' WHERE id = 1",
                      "DELETE FROM ism3_runs WHERE id = 4",
                      "DELETE FROM ism3_run_processes WHERE run_id = 1",
                      "UPDATE ism3_run_profiles SET achieved_level = 5"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()
    run(["history", "verify", "--db", history_db], 0)


def test_verify_finds_a_deleted_run(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    engine = _engine(history_db)
    _unguard(engine)
    _delete_run(engine, 2)
    engine.dispose()
    out = run(["history", "verify", "--db", history_db], 1).output
    assert "northwind: 3 run(s), chain BROKEN" in out
    assert "the run(s) at position 2 of the chain are missing (deleted); run 3 follows run 1" \
        in out
    assert "BROKEN: 1 of 1 chain(s)" in out


def test_verify_finds_the_last_run_deleted(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    engine = _engine(history_db)
    _unguard(engine)
    _delete_run(engine, 4)
    engine.dispose()
    out = run(["history", "verify", "--db", history_db], 1).output
    assert "the last 1 run(s) of the chain are missing (deleted): the head names run 4" in out


def test_verify_finds_altered_runs(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    engine = _engine(history_db)
    _unguard(engine)
    forged = report(NORTHWIND, QUARTERS[0])
    forged["profiles"][0]["achieved_level"] = 5
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ism3_runs SET as_of = '2026-01-15' WHERE id = 1")
        conn.execute(sa.text("UPDATE ism3_run_reports SET body = :b WHERE run_id = 2"),
                     {"b": zlib.compress(canonical_json(forged).encode())})
        conn.exec_driver_sql("UPDATE ism3_run_processes SET capability = 'none', rank = 0 "
                             "WHERE run_id = 3 AND process_id = 'OSP-11'")
        conn.exec_driver_sql("UPDATE ism3_runs SET recorded_at = '2020-01-01' WHERE id = 4")
        conn.exec_driver_sql("UPDATE ism3_run_profiles SET achieved_level = 3 WHERE run_id = 1")
        conn.exec_driver_sql("DELETE FROM ism3_run_gaps WHERE run_id = 4")
    engine.dispose()
    out = run(["history", "verify", "--db", history_db], 1).output
    assert "run 1: column as_of is '2026-01-15', its report says '2025-09-30'" in out
    assert "run 2: its stored report does not match its report sha256" in out
    assert "run 3: its process rows differ from its report" in out
    assert "run 4: its chain hash does not match its columns" in out
    assert "run 1: its profile rows differ from its report" in out
    assert "run 4: its gap rows differ from its report" in out
    # an altered report is refused wherever it is used
    assert "the stored report of run 2 does not match its recorded sha256" in run(
        ["history", "show", "2", "--db", history_db], 2).output
    assert "the store was altered" in run(["diff", "1", "2", "--db", history_db], 2).output


# -- diff by run id ---------------------------------------------------------------------------

def test_diff_runs_and_files(history_db: str, tmp_path: Path) -> None:
    files = _recorded(history_db, tmp_path)
    out = run(["diff", "2", "3", "--db", history_db], 0).output
    assert out.startswith("old  run 2: Northwind Traders (northwind), as of 2025-12-31")
    assert re.search(r"\nsmall-business +1 / 3 +3 / 3 +up ", out)
    mixed = json.loads(run(["diff", "1", str(files[3]), "-f", "json", "--db", history_db],
                           0).output)
    assert mixed["old"]["run"] == 1 and mixed["new"]["report"] == str(files[3])
    assert "no run 12 (the last run is 4)" in run(["diff", "1", "12", "--db", history_db],
                                                         2).output
    run(["diff", "3", "2", "--db", history_db, "--fail-on-regression"], 1)


# -- the database itself: location, errors, schema versions, concurrency ---------------------

def test_default_location_and_env(tmp_path: Path) -> None:
    data = tmp_path / "xdg"
    result = run(["evaluate", str(HARBOR), "-f", "json", "--record"],
                 0, env={"XDG_DATA_HOME": str(data)})
    expected = data / "ism3" / "history.sqlite"
    assert expected.is_file() and f"in {expected}" in result.stderr
    other = tmp_path / "team.sqlite"
    run(["evaluate", str(HARBOR), "-f", "json", "--record"], 0,
        env={"XDG_DATA_HOME": str(data), "ISM3_DB": str(other)})
    assert other.is_file()
    from ism3rules.history import default_path

    assert default_path({}) == Path.home() / ".local" / "share" / "ism3" / "history.sqlite"
    assert default_path({"XDG_DATA_HOME": "relative/dir"}).parts[-3:] == (
        "share", "ism3", "history.sqlite")


@pytest.mark.parametrize("db, match", [
    ("{tmp}/no/such/folder/h.sqlite", "the folder {tmp}/no/such/folder does not exist"),
    ("{tmp}", "a folder, not a database file"),
    ("{tmp}/text.sqlite", "not an SQLite database"),
    ("mysql://u@localhost/db", "mysql is not supported"),
    ("sqlite://", "an in-memory database keeps nothing"),
    ("postgresql+asyncpg://u@127.0.0.1/db", "the driver 'asyncpg' is not supported"),
    ("postgresql://ism3:s3cret@127.0.0.1:1/nothing", "cannot use the history database"),
])
def test_unusable_databases_are_exit_2(tmp_path: Path, db: str, match: str) -> None:
    (tmp_path / "text.sqlite").write_text("not a database, " * 100)
    result = run(["history", "list", "--db", db.format(tmp=tmp_path)], 2)
    assert match.format(tmp=tmp_path) in result.output
    assert "s3cret" not in result.output


def test_a_read_only_database_is_exit_2_and_unchanged(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    if history_db.startswith("postgresql"):
        url = sa.make_url(history_db)
        read_only = url.update_query_dict({"options": url.query["options"]
                                           + " -cdefault_transaction_read_only=on"})
        ro = read_only.render_as_string(hide_password=False)
    else:
        ro = f"sqlite:///file:{history_db}?mode=ro&uri=true"
    assert "4 run(s)" in run(["history", "verify", "--db", ro], 0).output
    extra = write(tmp_path / "extra.json", report(HARBOR))
    out = run(["history", "record", str(extra), "--db", ro], 2).output
    assert "the history database is read-only" in out and "nothing was recorded" in out
    assert "harbor-clinic" not in run(["history", "list", "--db", history_db], 0).output


def test_a_newer_schema_is_refused(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    engine = _engine(history_db)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO ism3_schema_version VALUES (99, 'from the future', "
                             "'2030-01-01T00:00:00+00:00', '9.0')")
    engine.dispose()
    out = run(["history", "list", "--db", history_db], 2).output
    assert f"schema version 99; this ism3 ({__version__}) knows versions up to {SCHEMA_VERSION}" in out
    assert "upgrade ism3rules" in out
    run(["evaluate", str(HARBOR), "--record", "--db", history_db], 2)


def test_tables_of_another_program_are_not_taken_for_a_store(history_db: str) -> None:
    engine = _engine(history_db)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ism3_runs (id INTEGER)")
    engine.dispose()
    assert "not a history store made by ism3" in run(["history", "list", "--db", history_db],
                                                     2).output


def _record_as_version_1(store: Any, document: dict[str, Any], seq: int,
                         previous: str | None) -> str:
    """Insert a run as ism3 at schema version 1 did (it had no gap rows)."""
    from ism3rules.history import rows
    from ism3rules.history.schema import (heads, run_findings, run_processes, run_profiles,
                                          run_reports, runs)
    from ism3rules.report_check import report_sha256

    sha = report_sha256(document)
    chain = rows.chain_hash(document["organization"]["id"], seq, previous, sha,
                            f"2026-01-0{seq}T00:00:00+00:00", "record")
    with store._write() as conn:
        run_id = conn.execute(sa.insert(runs).values(
            **rows.run_values(document), seq=seq, report_sha256=sha, source="record",
            recorded_at=f"2026-01-0{seq}T00:00:00+00:00", previous_hash=previous,
            chain_hash=chain)).inserted_primary_key[0]
        conn.execute(sa.insert(run_reports).values(
            run_id=run_id, encoding="zlib", body=rows.compress(canonical_json(document))))
        for table, made in ((run_processes, rows.process_rows(document)),
                            (run_profiles, rows.profile_rows(document)),
                            (run_findings, rows.finding_rows(document))):
            conn.execute(sa.insert(table), [{"run_id": run_id, **r} for r in made])
        if previous is None:
            conn.execute(sa.insert(heads).values(organization_id=document["organization"]["id"],
                                                 run_id=run_id, seq=seq, chain_hash=chain))
        else:
            conn.execute(sa.update(heads).values(run_id=run_id, seq=seq, chain_hash=chain))
    return chain


def test_migration_from_version_1(history_db: str, tmp_path: Path) -> None:
    old = open_store(history_db, target_version=1)
    with old.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("ism3_run_gaps")
    previous = None
    for seq, day in enumerate(QUARTERS[:3], start=1):
        previous = _record_as_version_1(old, report(NORTHWIND, day), seq, previous)
    old.close()
    with open_store(history_db) as store:        # opening migrates to the current version
        with store.engine.connect() as conn:
            versions = conn.exec_driver_sql(
                "SELECT version FROM ism3_schema_version ORDER BY version").scalars().all()
            gaps = conn.exec_driver_sql("SELECT count(*) FROM ism3_run_gaps WHERE run_id = 1"
                                        ).scalar()
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert gaps and gaps > 0
        assert all(check.intact for check in store.verify())   # gap rows match the reports
    latest = write(tmp_path / "q4.json", report(NORTHWIND, QUARTERS[3]))
    assert "recorded as run 4" in run(["history", "record", str(latest), "--db", history_db],
                                      0).output
    assert "northwind: 4 run(s), chain intact" in run(["history", "verify", "--db", history_db],
                                                      0).output


def test_the_migrated_schema_is_the_declared_schema(history_db: str) -> None:
    open_store(history_db).close()
    engine = _engine(history_db)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in metadata.sorted_tables:
            found = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert list(found) == [c.name for c in table.columns], table.name
            for column in table.columns:
                assert found[column.name]["nullable"] == column.nullable, (table.name,
                                                                           column.name)
                assert found[column.name]["type"]._type_affinity is \
                    column.type._type_affinity, (table.name, column.name)
            primary = inspector.get_pk_constraint(table.name)["constrained_columns"]
            assert sorted(primary) == sorted(c.name for c in table.primary_key), table.name
        names = set(inspector.get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= names
    engine.dispose()


def test_two_processes_recording_at_once_lose_nothing(history_db: str, tmp_path: Path) -> None:
    """Two processes create the store and extend the same two chains at once, each run its
    own transaction."""
    import subprocess
    import sys

    base = report(HARBOR)
    batches: list[list[str]] = [[], []]
    for i in range(24):
        org = ("alpha", "beta")[i % 2]
        document = derived(base, org=org, as_of=f"2027-01-{i + 1:02d}")
        batches[i % 2 if i < 20 else 0].append(str(write(tmp_path / f"r{i}.json", document)))
    shared = str(write(tmp_path / "shared.json", derived(base, org="alpha", as_of="2028-01-01")))
    for files in batches:
        files.append(shared)           # both record this one: it must be recorded once
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from ism3rules.history import open_store\n"
        "from ism3rules.report_check import load_report_file\n"
        "docs = [load_report_file(pathlib.Path(p)) for p in sys.argv[3:]]\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "store = open_store(sys.argv[1])\n"
        "for d in docs: store.record([d], 'record')\n"
        "store.close()\n")
    # both processes open the new store at once (it is built once), then record at once
    procs = [subprocess.Popen([sys.executable, "-c", script, history_db, str(go), *files],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for files in batches]
    go.touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with open_store(history_db) as store:
        found = store.runs()
        checks = store.verify()
    assert len(found) == 25                       # 24 distinct reports and the shared one
    engine = _engine(history_db)
    with engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT version FROM ism3_schema_version").scalars().all()
    engine.dispose()
    assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))
    assert len({r.report_sha256 for r in found}) == 25
    by_org = {c.organization_id: c for c in checks}
    assert by_org["alpha"].runs == 13 and by_org["beta"].runs == 12
    assert all(c.intact for c in checks), [c.problems for c in checks]
    for org in ("alpha", "beta"):
        assert sorted(r.seq for r in found if r.organization_id == org) == \
            list(range(1, by_org[org].runs + 1))


def test_open_store_errors_are_history_errors(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="does not exist"):
        open_store(str(tmp_path / "missing" / "h.sqlite"))


def test_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    """SQLite in WAL mode: a long write transaction elsewhere does not stop list or trend."""
    db = str(tmp_path / "h.sqlite")
    _recorded(db, tmp_path)
    with open_store(db) as store, store._write() as conn:     # holds the write lock
        conn.exec_driver_sql("INSERT INTO ism3_heads VALUES ('zz', 0, 0, 'x')")
        assert "northwind" in run(["history", "list", "--db", db], 0).output
        assert "3/3" in run(["history", "trend", "northwind", "--db", db], 0).output
        conn.exec_driver_sql("DELETE FROM ism3_heads WHERE organization_id = 'zz'")


def test_backfill_is_bounded(tmp_path: Path) -> None:
    out = run(["history", "backfill", str(NORTHWIND), "--every", "week", "--from", "2000-01-01",
               "--to", "2030-12-31", "--db", str(tmp_path / "h.sqlite")], 2).output
    assert "at most 1000 evaluations per backfill" in out


def test_documents_are_deterministic(history_db: str, tmp_path: Path) -> None:
    _recorded(history_db, tmp_path)
    for command in (["history", "trend", "northwind"], ["history", "portfolio"],
                    ["diff", "1", "4"]):
        first = run([*command, "-f", "json", "--db", history_db], 0).output
        assert first == run([*command, "-f", "json", "--db", history_db], 0).output


def test_a_file_named_like_a_run_id_is_a_file(history_db: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    files = _recorded(history_db, tmp_path)
    monkeypatch.chdir(tmp_path)
    shutil.copy(files[0], tmp_path / "4")
    document = json.loads(run(["diff", "4", "run:4", "-f", "json", "--db", history_db],
                              0).output)
    assert document["old"]["report"] == "4" and document["old"]["run"] is None
    assert document["new"]["run"] == 4


def test_a_writer_that_lost_the_race_goes_on_from_the_new_head(history_db: str) -> None:
    """A writer extends a chain while another has not committed yet: the second waits
    (SQLite: for the write lock; PostgreSQL: on the chain's unique position, then retries
    on the new head), and the chain stays one line."""
    import threading

    from ism3rules.report_check import report_sha256

    first, second = open_store(history_db), open_store(history_db)
    docs = [derived(report(HARBOR), org="alpha", as_of=f"2027-02-0{i}") for i in (1, 2, 3)]
    first.record([docs[0]], "record")
    outcome: list[Any] = []
    waiter = threading.Thread(target=lambda: outcome.append(second.record([docs[2]], "record")))
    with first._write() as conn:
        first._record_one(conn, docs[1], "record")
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive()          # it cannot go on while the first is uncommitted
    waiter.join(120)
    assert outcome and outcome[0][0].new
    found = {r.report_sha256: r.seq for r in first.runs("alpha")}
    assert [found[report_sha256(d)] for d in docs] == [1, 2, 3]
    assert all(check.intact for check in first.verify())
    first.close()
    second.close()


def test_batch_record_keeps_the_good_bundles_of_a_batch_with_a_broken_one(
        history_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    shutil.copytree(HARBOR, folder / "clinic")
    (folder / "broken").mkdir()
    (folder / "broken" / "bundle.yaml").write_text("schema: ism3-evidence/1\nevidence: 3\n")
    result = run(["batch", str(folder), "-j", "1", "-q", "--record", "--db", history_db], 2)
    assert "recorded 1 run(s), 0 already recorded" in result.stderr
    assert "harbor-clinic" in run(["history", "list", "--db", history_db], 0).output
