"""`ism3 batch`: many bundles give what `evaluate` gives for each, in path order, whatever
the number of workers; a broken bundle is reported and the others go on."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import BATCH_FORMAT_CHOICES, EXECUTOR_CHOICES, main
from conftest import ROOT, doc_item, write_bundle
from ism3rules import batch as batch_module
from ism3rules.api import load_inputs
from ism3rules.batch import BundleOutcome, discover, report_names, run_batch
from ism3rules.formats.batch_formats import BATCH_FORMATS

# Processes and metric types chosen so the bundles reach different levels.
SMALL_BUSINESS_CORE = ["OSP-3", "OSP-4", "OSP-5", "OSP-10", "OSP-11", "OSP-12", "OSP-16",
                       "OSP-17", "OSP-24", "TSP-1", "SSP-1"]
TYPES = ["activity", "scope", "unavailability", "effectiveness", "load", "quality", "efficiency"]


def _csv(rows: int, start_day: int = 1) -> str:
    return "date,value\n" + "".join(f"2026-01-{d:02d},{d * 1.5}\n"
                                    for d in range(start_day, start_day + rows))


def make_bundle(root: Path, org: str, documented: int, metric_types: int) -> Path:
    """A bundle with `documented` documented processes, each with `metric_types` CSV metrics."""
    items: list[dict[str, object]] = []
    files: dict[str, str] = {}
    for proc in SMALL_BUSINESS_CORE[:documented]:
        items.append(doc_item(proc))
        files[f"docs/{proc}.md"] = f"# {proc} of {org}\n"
        for mtype in TYPES[:metric_types]:
            path = f"metrics/{proc}-{mtype}.csv"
            files[path] = _csv(5 + len(items) % 20)
            items.append({"id": f"MET-{proc}-{mtype}", "process": proc, "kind": "metric",
                          "metric_type": mtype, "path": path})
    return write_bundle(root, items, files=files, org_id=org,
                        period=("2026-01-01", "2026-03-31"))


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """A folder of five bundles, created out of name order, plus a non-bundle subfolder."""
    parent = tmp_path / "fleet"
    make_bundle(parent / "delta", "delta", 10, 7)
    make_bundle(parent / "alpha", "alpha", 3, 4)
    make_bundle(parent / "echo", "echo", 0, 0)
    make_bundle(parent / "charlie", "charlie", 10, 2)
    make_bundle(parent / "bravo", "bravo", 10, 4)
    (parent / "notes").mkdir()
    (parent / "notes" / "readme.txt").write_text("not a bundle\n")
    return parent


def invoke(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def evaluate_json(bundle: Path, *extra: str) -> str:
    return invoke(["evaluate", str(bundle), "-f", "json", *extra])


@pytest.mark.parametrize("jobs, options", [("1", []), ("2", []),
                                            ("2", ["--as-of", "2026-01-10"])])
def test_reports_are_byte_identical_to_evaluate(fleet: Path, tmp_path: Path, jobs: str,
                                                 options: list[str]) -> None:
    reports = tmp_path / f"reports-{jobs}"
    summary = json.loads(invoke(["batch", str(fleet), "-j", jobs, "-f", "json",
                                 "--reports-dir", str(reports), *options]))
    names = ["alpha", "bravo", "charlie", "delta", "echo"]
    assert sorted(p.name for p in reports.iterdir()) == [f"{n}.json" for n in names]
    for entry, name in zip(summary["bundles"], names, strict=True):
        single = evaluate_json(fleet / name, *options)
        assert (reports / f"{name}.json").read_text() == single
        doc = json.loads(single)
        assert entry["levels"] == {p["id"]: p["achieved_level"] for p in doc["profiles"]}
        assert entry["organization"] == {"id": doc["organization"]["id"],
                                         "name": doc["organization"]["name"]}
        assert entry["report"] == str(reports / f"{name}.json")
    # the fleet really differs from bundle to bundle, so the comparison means something
    assert len({json.dumps(b["levels"]) for b in summary["bundles"]}) >= 3


def test_order_is_by_path_whatever_the_jobs_and_argument_order(fleet: Path) -> None:
    outputs = {jobs: invoke(["batch", str(fleet / "echo"), str(fleet), str(fleet / "alpha"),
                             "-j", jobs, "-f", "json"]) for jobs in ("1", "2", "3")}
    assert outputs["1"] == outputs["2"] == outputs["3"]
    paths = [b["path"] for b in json.loads(outputs["2"])["bundles"]]
    assert paths == sorted(paths)
    assert [Path(p).name for p in paths] == ["alpha", "bravo", "charlie", "delta", "echo"]


def test_a_broken_bundle_is_reported_and_the_others_go_on(fleet: Path, tmp_path: Path) -> None:
    (fleet / "bad-yaml").mkdir()
    (fleet / "bad-yaml" / "bundle.yaml").write_text("schema: [unclosed\n")
    write_bundle(fleet / "bad-process", [doc_item("OSP-99")], files={"docs/OSP-99.md": "x"})
    reports = tmp_path / "reports"
    out = invoke(["batch", str(fleet), "-j", "2", "-f", "json", "--reports-dir", str(reports)],
                 code=2)
    summary = json.loads(out)
    assert summary["totals"] == {"bundles": 7, "ok": 5, "failed": 2, "not_evaluated": 0}
    assert summary["complete"] is True
    by_name = {Path(b["path"]).name: b for b in summary["bundles"]}
    for name in ("bad-yaml", "bad-process"):
        entry = by_name[name]
        assert entry["status"] == "error" and entry["error_kind"] == "input"
        assert entry["organization"] is None and entry["report"] is None
        single = CliRunner().invoke(main, ["evaluate", str(fleet / name)])
        assert single.exit_code == 2
        assert single.output == "".join(f"ism3: error: {line}\n"
                                        for line in entry["error"].splitlines())
    assert "unknown process 'OSP-99'" in by_name["bad-process"]["error"]
    assert sorted(p.name for p in reports.iterdir()) == [
        "alpha.json", "bravo.json", "charlie.json", "delta.json", "echo.json"]


def test_table_lists_levels_then_failures(fleet: Path) -> None:
    (fleet / "zulu").mkdir()
    (fleet / "zulu" / "bundle.yaml").write_text("schema: ism3-evidence/2\n")
    out = invoke(["batch", str(fleet), "-j", "1"], code=2)
    lines = out.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("---"))
    # each profile headed with its source; a narrow column wraps its header
    header = [" ".join(line.split()) for line in lines[:dashes]]
    assert header[0].split()[:2] == ["bundle", "organization"]
    for pid in ("cloud-saas", "ism3-derived", "small-business"):
        assert pid in header[0]
    assert " ".join(header).count("(derived)") == 3
    assert [line.split()[1] for line in lines[dashes + 1:dashes + 6]] == [
        "alpha", "bravo", "charlie", "delta", "echo"]
    assert "Failed" in lines
    assert "zulu" in out and "this tool reads 'ism3-evidence/1'" in out
    assert lines[-1] == "6 bundles: 5 evaluated, 1 failed"


def test_all_good_is_exit_0_and_csv_has_a_row_per_bundle(fleet: Path, tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    assert invoke(["batch", str(fleet), "-j", "1", "-f", "csv", "-p", "small-business",
                   "-o", str(target)]) == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["organization_id"] for r in rows] == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert set(rows[0]) == {"path", "status", "organization_id", "organization_name",
                            "small-business", "report", "error", "small-business source"}
    assert {r["small-business source"] for r in rows} == {"derived"}
    for row in rows:
        doc = json.loads(evaluate_json(Path(row["path"]), "-p", "small-business"))
        assert int(row["small-business"]) == doc["profiles"][0]["achieved_level"]


def test_explicit_bundles_and_duplicates_are_evaluated_once(fleet: Path) -> None:
    found = discover([fleet / "bravo", fleet, fleet / "bravo" / "bundle.yaml"])
    assert [p.name for p in found] == ["alpha", "bravo", "charlie", "delta", "echo"]


def test_report_names_stay_distinct(tmp_path: Path) -> None:
    one = make_bundle(tmp_path / "a" / "site", "one", 1, 0)
    two = make_bundle(tmp_path / "b" / "site", "two", 1, 0)
    assert report_names([one, two]) == ["site.json", "site-2.json"]


@pytest.mark.parametrize("args, message", [
    (["batch", "nowhere"], "nowhere: no such bundle folder or file"),
    (["batch", str(ROOT / "rules")], "no evidence bundle here"),
    (["batch", str(ROOT / "evidence"), "-p", "no-such-profile"], "no-such-profile"),
    (["batch", str(ROOT / "evidence"), "-j", "0"], "0 is not in the range x>=1"),
])
def test_usage_errors_stop_before_any_bundle(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_progress_is_reported_once_per_bundle(fleet: Path) -> None:
    seen: list[tuple[int, int]] = []
    result = run_batch([fleet], jobs=1, progress=lambda done, total, _o: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(0, 6)]
    assert all(o.ok for o in result.outcomes)


def crash_on_charlie(path: str, report: str | None) -> BundleOutcome:
    """Stands in for a worker that dies inside the engine on one bundle."""
    if path.endswith("charlie"):
        os._exit(70)
    return BundleOutcome(path, "org", "Org")


def test_a_worker_crash_is_pinned_on_its_bundle(fleet: Path) -> None:
    tasks = [(str(p), None) for p in discover([fleet])]
    outcomes: dict[int, BundleOutcome] = {}
    batch_module._run_pool(tasks, 2, (load_inputs(), None, None), outcomes.__setitem__,
                           crash_on_charlie)
    assert sorted(outcomes) == list(range(5))
    failed = {Path(o.path).name: o for o in outcomes.values() if not o.ok}
    assert list(failed) == ["charlie"]
    assert failed["charlie"].error_kind == "internal"
    assert "died" in (failed["charlie"].error or "")


def test_every_batch_format_choice_has_a_renderer() -> None:
    assert set(BATCH_FORMAT_CHOICES) == set(BATCH_FORMATS)
    assert EXECUTOR_CHOICES == batch_module.EXECUTORS


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_batch_applies_the_reading_limits_in_every_worker(fleet: Path, jobs: str) -> None:
    """--max-csv-bytes bounds each bundle as it bounds `evaluate`; bundles under it pass."""
    result = CliRunner().invoke(main, ["batch", str(fleet), "-j", jobs, "-q", "-f", "json",
                                       "--max-csv-bytes", "200"])
    assert result.exit_code == 2, result.output
    summary = json.loads(result.output)
    failed = {Path(b["path"]).name: b["error"] for b in summary["bundles"] if b.get("error")}
    assert set(failed) == {"alpha", "bravo", "charlie", "delta"}   # echo has no CSV at all
    assert all("limit of 200 bytes" in error for error in failed.values())
