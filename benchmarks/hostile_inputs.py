"""Measure what hostile inputs cost: time and peak memory per attack, each in its own process.

Not a test (no assertions): run it and read the table, e.g. after changing the loader,
the limits or the writers.  `python benchmarks/hostile_inputs.py [--only WORD]`

Each attack runs `ism3 ...` in a fresh interpreter (the modules a command needs are
imported before the clock starts, so the time is the command's own); the peak memory
is that process's maximum resident set (VmHWM), interpreter included: compare it
with the `baseline` row. An attack still running after --timeout seconds (default 300)
is stopped and reported as such.

`--root DIR` runs the attacks against another checkout of ism3rules (e.g. an older
version exported with `git archive`), to measure what an attack cost before a fix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"
METRIC = ("evidence:\n  - {id: M1, process: OSP-3, kind: metric, metric_type: scope, "
          "path: m.csv}\n")
MIB = 1024 * 1024

CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, os.getcwd())
import cli, ism3rules.api, ism3rules.verify, ism3rules.formats, ism3rules.batch  # noqa
import ism3rules.attest, ism3rules.review, ism3rules.report_check, ism3rules.formats.html  # noqa
start = time.perf_counter()
code = 0
try:
    cli.main(sys.argv[1:], prog_name="ism3")
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else 1
seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would include the parent's, copied at fork)
with open("/proc/self/status") as status:
    rss = next((int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM")),
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
os.write(int(os.environ["ISM3_BENCH_FD"]),
         json.dumps({"code": code, "seconds": seconds, "rss": rss}).encode())
"""


def laughs(levels: int, width: int) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return HEAD + "evidence: []\n" + "\n".join(lines) + "\n"


def merges(levels: int) -> str:
    lines = ["m0: &m0 {a: 1, b: 2, c: 3}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, levels)]
    return HEAD + "evidence: []\n" + "\n".join(lines) + "\n"


def sparse(path: Path, head: str, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head)
    with open(path, "r+b") as handle:
        handle.truncate(size)


def rows(path: Path, count: int, value: str = "{n}") -> None:
    with open(path, "w") as handle:
        handle.write("date,value\n")
        for n in range(count):
            handle.write(f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},{value.format(n=n % 1000)}\n")


Setup = Callable[[Path], list[str]]   # builds the input under a folder, returns ism3's args


def manifest(text: str | Callable[[], str], extra: Callable[[Path], None] | None = None,
             args: tuple[str, ...] = ()) -> Setup:
    """`validate` of a bundle.yaml (text, or a function making it: big texts are made
    only when their attack runs, so that this process stays small)."""
    def setup(tmp: Path) -> list[str]:
        root = tmp / "b"
        root.mkdir()
        (root / "bundle.yaml").write_text(text if isinstance(text, str) else text())
        if extra:
            extra(root)
        return ["validate", str(root), *args]
    return setup


def evaluate(setup: Setup, *args: str) -> Setup:
    def run(tmp: Path) -> list[str]:
        given = setup(tmp)
        return ["evaluate", given[1], "-f", "json", "-o", str(tmp / "r.json"), *args]
    return run


def long_period(tmp: Path) -> list[str]:
    items = "".join(f"  - {{id: M{n}, process: OSP-3, kind: metric, metric_type: activity, "
                    f"observations: [{{date: 2026-01-01, value: 1}}], "
                    f"specification: {{frequency: yearly}}}}\n" for n in range(100))
    root = tmp / "b"
    root.mkdir()
    (root / "bundle.yaml").write_text(HEAD + "assessment: {period: {start: 0001-01-01, "
                                      "end: 9999-12-30}}\nevidence:\n" + items)
    return ["evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json")]


def many_paths_one_file(tmp: Path) -> list[str]:
    root = tmp / "b"
    (root / "docs").mkdir(parents=True)
    sparse(root / "docs" / "big.pdf", "%PDF\n", 200 * MIB)
    items = ""
    for n in range(5):
        name = "big.pdf" if n == 0 else f"link{n}.pdf"
        if n:
            os.symlink("big.pdf", root / "docs" / name)
        items += f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: docs/{name}}}\n"
    (root / "bundle.yaml").write_text(HEAD + "evidence:\n" + items)
    return ["evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json")]


def one_csv_many_items(tmp: Path) -> list[str]:
    root = tmp / "b"
    root.mkdir()
    rows(root / "m.csv", 600_000)   # about 8 MiB
    types = ["activity", "scope", "load", "quality"]
    items = "".join(f"  - {{id: M{n}, process: OSP-{3 + n // 4}, kind: metric, "
                    f"metric_type: {types[n % 4]}, path: m.csv}}\n" for n in range(40))
    (root / "bundle.yaml").write_text(HEAD + "evidence:\n" + items)
    return ["evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json")]


def outliers(tmp: Path) -> list[str]:
    root = tmp / "b"
    root.mkdir()
    rows(root / "m.csv", 300_000, "5")
    (root / "bundle.yaml").write_text(
        HEAD + "evidence:\n  - {id: M1, process: OSP-3, kind: metric, metric_type: scope, "
        "path: m.csv, specification: {thresholds: {lower: 0, upper: 1}}}\n")
    return ["evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json")]


def alias_title(tmp: Path) -> list[str]:
    title = "x" * (15 * MIB)
    items = "\n".join(f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: d.md, "
                      f"title: {'&t ' + repr(title) if n == 0 else '*t'}}}" for n in range(100))
    return manifest(f"{HEAD}evidence:\n{items}\n")(tmp)


def big_title(fmt: str) -> Setup:
    def setup(tmp: Path) -> list[str]:
        root = tmp / "b"
        root.mkdir()
        (root / "d.md").write_text("x\n")
        (root / "bundle.yaml").write_text(
            HEAD + "evidence:\n  - {id: D1, process: OSP-3, kind: documentation, path: d.md, "
            f"title: '{'x' * (15 * MIB)}'}}\n")
        return ["evaluate", str(root), "-f", fmt, "-o", str(tmp / "r.out")]
    return setup


def slas_by_items(metric_type: str) -> Setup:
    """5,000 metric items and 5,000 service levels on one process: each service level
    on the items' type (its windows cover every item) or on another type (none)."""
    def setup(tmp: Path) -> list[str]:
        root = tmp / "b"
        root.mkdir()
        items = "".join(f"  - {{id: M{n}, process: OSP-3, kind: metric, metric_type: "
                        f"activity, observations: [{{date: 2026-01-01, value: 1}}]}}\n"
                        for n in range(5000))
        levels = "".join(f"  - {{id: S{n}, process: OSP-3, metric_type: {metric_type}, "
                         f"target: '>= 0'}}\n" for n in range(5000))
        (root / "bundle.yaml").write_text(HEAD + "evidence:\n" + items + "service_levels:\n"
                                          + levels)
        return ["evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json")]
    return setup


def verify_with(make: Callable[[Path, Path], Path | None]) -> Setup:
    """`verify` of a real report against a bundle, after `make` spoils one of them."""
    def setup(tmp: Path) -> list[str]:
        root = tmp / "b"
        root.mkdir()
        (root / "d.md").write_text("x\n")
        (root / "bundle.yaml").write_text(
            HEAD + "evidence:\n  - {id: D1, process: OSP-3, kind: documentation, path: d.md}\n")
        report = tmp / "r.json"
        subprocess.run([sys.executable, "-c", "import cli; cli.main()", "evaluate", str(root),
                        "-f", "json", "-o", str(report)], cwd=ROOT, check=True)
        given = make(tmp, root) or report
        return ["verify", str(given), str(root)]
    return setup


def fifo_manifest(tmp: Path, root: Path) -> None:
    (root / "bundle.yaml").unlink()
    os.mkfifo(root / "bundle.yaml")


def sparse_manifest(tmp: Path, root: Path) -> None:
    sparse(root / "bundle.yaml", HEAD, 20 * 1024 ** 3)


def sparse_report(tmp: Path, root: Path) -> Path:
    sparse(tmp / "big.json", '{"schema": "ism3-report/1"', 1024 ** 3)
    return tmp / "big.json"


def deep_report(tmp: Path, root: Path) -> Path:
    (tmp / "deep.json").write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return tmp / "deep.json"


# -- input files that are not bundles: reports, reviews, templates, keys, envelopes, ...

def _ism3(*args: str) -> None:
    subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def inputs_world(tmp: Path) -> dict[str, Path]:
    """A bundle, its report, a review and the report made with it, a key pair and a
    signature: what the input-file attacks spoil one at a time."""
    root = tmp / "b"
    root.mkdir()
    (root / "d.md").write_text("x\n")
    (root / "bundle.yaml").write_text(
        HEAD + "evidence:\n  - {id: D1, process: OSP-3, kind: documentation, path: d.md}\n")
    review = tmp / "review.yaml"
    review.write_text("schema: ism3-review/1\nengagement: {client: a, auditor: J}\n")
    _ism3("evaluate", str(root), "-f", "json", "-o", str(tmp / "r.json"))
    _ism3("evaluate", str(root), "--review", str(review), "-f", "json", "-o", str(tmp / "rr.json"))
    _ism3("keygen", str(tmp / "k.pem"), str(tmp / "k.pub"))
    _ism3("sign", str(tmp / "rr.json"), "--key", str(tmp / "k.pem"), "--review", str(review),
          "-o", str(tmp / "rr.sig"))
    return {"bundle": root, "report": tmp / "r.json", "review": review, "reviewed": tmp / "rr.json",
            "key": tmp / "k.pem", "pub": tmp / "k.pub", "sig": tmp / "rr.sig"}


def spoiled(make: Callable[[Path], Path], command: Callable[[dict[str, Path], Path], list[str]]
            ) -> Setup:
    """The command `command(world, file)` given the file `make(tmp)` in place of an input."""
    def setup(tmp: Path) -> list[str]:
        world = inputs_world(tmp)
        (tmp / "in").mkdir()
        return command(world, make(tmp / "in"))
    return setup


def fifo(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        os.mkfifo(tmp / name)
        return tmp / name
    return make


def sparse_file(name: str, size: int, head: str = "") -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        sparse(tmp / name, head, size)
        return tmp / name
    return make


def text_file(name: str, text: str | Callable[[], str]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_text(text if isinstance(text, str) else text())
        return tmp / name
    return make


CSP_HEAD = '<meta http-equiv="Content-Security-Policy" content="{{ csp }}">'


def template(body: str) -> Callable[[Path], Path]:
    return text_file("t.html", CSP_HEAD + body)


def zip_bomb_store(tmp: Path) -> list[str]:
    """A history store whose one stored report inflates to 2 GiB (2 MiB stored)."""
    import sqlite3
    import zlib

    world = inputs_world(tmp)
    db = tmp / "h.sqlite"
    _ism3("history", "record", str(world["report"]), "--db", str(db))
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(b" " * MIB) for _ in range(2048)) + packer.flush()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER IF EXISTS ism3_run_reports_no_update")
        conn.execute("UPDATE ism3_run_reports SET body = ?", (bomb,))
    return ["history", "show", "1", "--db", str(db), "-f", "json"]


def verify_report_with(w: dict[str, Path], f: Path) -> list[str]:
    return ["verify", str(f), str(w["bundle"])]


def diff_with(w: dict[str, Path], f: Path) -> list[str]:
    return ["diff", str(w["report"]), str(f)]


def record(w: dict[str, Path], f: Path) -> list[str]:
    return ["history", "record", str(f), "--db", str(f.parent / "h.sqlite")]


def sign_report(w: dict[str, Path], f: Path) -> list[str]:
    return ["sign", str(f), "--key", str(w["key"]), "--bundle", str(w["bundle"]), "-o",
            str(f.parent / "s.sig")]


def sign_with_key(w: dict[str, Path], f: Path) -> list[str]:
    return ["sign", str(w["reviewed"]), "--key", str(f), "--review", str(w["review"]), "-o",
            str(f.parent / "s.sig")]


def verify_signature(w: dict[str, Path], f: Path) -> list[str]:
    return ["verify", str(w["reviewed"]), str(w["bundle"]), "--signature", str(f),
            "--public-key", str(w["pub"])]


def verify_with_key(w: dict[str, Path], f: Path) -> list[str]:
    return ["verify", str(w["reviewed"]), str(w["bundle"]), "--signature", str(w["sig"]),
            "--public-key", str(f)]


def evaluate_review(w: dict[str, Path], f: Path) -> list[str]:
    return ["evaluate", str(w["bundle"]), "--review", str(f), "-f", "json"]


def evaluate_template(w: dict[str, Path], f: Path) -> list[str]:
    return ["evaluate", str(w["bundle"]), "-f", "html", "--template", str(f), "-o",
            str(f.parent / "out.html")]


def merge(w: dict[str, Path], f: Path) -> list[str]:
    return ["batch", "merge", str(f)]


def evaluate_profile(w: dict[str, Path], f: Path) -> list[str]:
    return ["evaluate", str(w["bundle"]), "-p", str(f), "-f", "json"]


def rules_dir(w: dict[str, Path], f: Path) -> list[str]:
    return ["rules", "--rules-dir", str(f.parent)]


def in_folder(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
    """The file made alone in a folder of its own (a rules folder)."""
    def inner(tmp: Path) -> Path:
        (tmp / "rules").mkdir()
        return make(tmp / "rules")
    return inner


INPUT_CASES: list[tuple[str, Setup]] = [
    ("diff: a named pipe as report", spoiled(fifo("p.json"), diff_with)),
    ("history record: a named pipe as report", spoiled(fifo("p.json"), record)),
    ("diff: a 20 GiB report (sparse)", spoiled(sparse_file("big.json", 20 * 1024 ** 3),
                                               diff_with)),
    ("diff: a report nested 100,000 deep", spoiled(text_file(
        "deep.json", '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"), diff_with)),
    ("diff: a report holding 1e400", spoiled(text_file(
        "inf.json", '{"schema": "ism3-report/1", "x": 1e400}'), diff_with)),
    ("sign: a 20 GiB report (sparse)", spoiled(sparse_file("big.html", 20 * 1024 ** 3),
                                               sign_report)),
    ("sign: a named pipe as private key", spoiled(fifo("k.pem"), sign_with_key)),
    ("sign: a 20 GiB private key (sparse)", spoiled(sparse_file("k.pem", 20 * 1024 ** 3),
                                                    sign_with_key)),
    ("verify --signature: a named pipe as envelope", spoiled(fifo("s.sig"), verify_signature)),
    ("verify --signature: a 20 GiB envelope (sparse)",
     spoiled(sparse_file("s.sig", 20 * 1024 ** 3), verify_signature)),
    ("verify --signature: an envelope nested 100,000 deep", spoiled(text_file(
        "s.sig", '{"payload": ' + "[" * 100_000 + "]" * 100_000 + "}"), verify_signature)),
    ("verify --signature: a named pipe as public key", spoiled(fifo("k.pub"), verify_with_key)),
    ("--review: a named pipe", spoiled(fifo("r.yaml"), evaluate_review)),
    ("--review: 17 MiB (sparse)", spoiled(sparse_file("r.yaml", 17 * MIB), evaluate_review)),
    ("--review: billion laughs", spoiled(text_file("r.yaml", lambda: laughs(10, 10)),
                                         evaluate_review)),
    ("--template: a named pipe", spoiled(fifo("t.html"), evaluate_template)),
    ("--template: 2 MiB (sparse)", spoiled(sparse_file("t.html", 2 * MIB), evaluate_template)),
    ("--template: loops 100,000 x 100,000", spoiled(template(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
        evaluate_template)),
    ("--template: 'x' * 2,000,000,000", spoiled(template("{{ 'x' * 2000000000 }}"),
                                                evaluate_template)),
    ("--template: 'x'.ljust(2,000,000,000)", spoiled(template("{{ 'x'.ljust(2000000000) }}"),
                                                     evaluate_template)),
    ("--template: a macro calling itself", spoiled(template(
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), evaluate_template)),
    ("--template: including itself", spoiled(template('{% include "t.html" %}'),
                                             evaluate_template)),
    ("--template: including itself in a report block", spoiled(template(
        '{% extends "ism3/report.html.j2" %}{% block footer %}{% include "t.html" %}'
        '{% endblock %}'), evaluate_template)),
    ("batch merge: a 2 GiB summary (sparse)", spoiled(sparse_file("s.json", 2 * 1024 ** 3),
                                                      merge)),
    ("batch merge: a summary nested 100,000 deep", spoiled(text_file(
        "s.json", "[" * 100_000 + "]" * 100_000), merge)),
    ("-p: a named pipe as profile", spoiled(fifo("p.yaml"), evaluate_profile)),
    ("-p: a 1 GiB profile (sparse)", spoiled(sparse_file("p.yaml", 1024 ** 3), evaluate_profile)),
    ("--rules-dir: a named pipe as rule file", spoiled(in_folder(fifo("r.yaml")), rules_dir)),
    ("--rules-dir: a 1 GiB rule file (sparse)", spoiled(in_folder(sparse_file(
        "r.yaml", 1024 ** 3)), rules_dir)),
    ("--db: a named pipe", spoiled(fifo("h.sqlite"), lambda w, f: ["history", "list", "--db",
                                                                    str(f)])),
    ("history show: a stored report inflating to 2 GiB", zip_bomb_store),
]
def archive(make: Callable[[Path], Path], *args: str) -> Setup:
    """`validate` of a hostile archive built by tests/archive_support.py."""
    def setup(tmp: Path) -> list[str]:
        return ["validate", str(make(tmp)), *args]
    return setup


def sample_zip(tmp: Path) -> Path:
    import shutil

    return Path(shutil.make_archive(str(tmp / "northwind"), "zip", ROOT / "evidence",
                                    "northwind"))


CASES: list[tuple[str, Setup]] = [
    ("baseline: validate an empty bundle", manifest(HEAD + "evidence: []\n")),
    ("billion laughs 10x10 (10^10 nodes)", manifest(lambda: laughs(10, 10))),
    ("billion laughs, alias count raised", manifest(lambda: laughs(10, 10), None,
                                                    ("--max-yaml-aliases", "1000000"))),
    ("narrow chain 3^29, aliases raised", manifest(lambda: laughs(30, 3), None,
                                                   ("--max-yaml-aliases", "1000000"))),
    ("merge-key chain 3^24", manifest(lambda: merges(25), None,
                                      ("--max-yaml-aliases", "1000000"))),
    ("15 MB title behind 100 aliases", alias_title),
    ("1,000,000 nested flow lists", manifest(lambda: HEAD + "x: " + "[" * 10**6 + "]" * 10**6
                                             + "\n")),
    ("1,000,000 nested block lists", manifest(lambda: HEAD + "x:\n  " + "- " * 10**6 + "y\n")),
    ("recursive alias", manifest(HEAD + "evidence: &e [*e]\n")),
    ("sexagesimal integer of 600,001 chars", manifest(lambda: HEAD + "evidence: []\nx: 1"
                                                      + ":00" * 200_000 + "\n")),
    ("bundle.yaml of 17 MiB", manifest(lambda: HEAD + "evidence: []\n#" + " " * (17 * MIB))),
    ("bundle.yaml of 16 MiB: 250,000 small items", manifest(lambda: HEAD + "evidence:\n"
                                                           + "".join(
        f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: d.md}}\n"
        for n in range(250_000)))),
    ("10,001 evidence items", manifest(lambda: HEAD + "evidence:\n" + "".join(
        f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: d.md}}\n"
        for n in range(10_001)))),
    ("CSV 30 MiB, bad row 3 (sparse)", manifest(HEAD + METRIC, lambda r: sparse(
        r / "m.csv", "date,value\n2026-01-01,3\n2026-01-08,x\n", 30 * MIB))),
    ("CSV 33 MiB (over the limit)", manifest(HEAD + METRIC,
                                             lambda r: sparse(r / "m.csv", "date,value\n",
                                                              33 * MIB))),
    ("CSV 1,000,000 valid rows (17 MiB)", manifest(HEAD + METRIC,
                                                   lambda r: rows(r / "m.csv", 1_000_000))),
    ("one 8 MiB CSV named by 40 items", one_csv_many_items),
    ("300,000 observations outside thresholds", outliers),
    ("document of 64 GiB (sparse)", evaluate(manifest(
        HEAD + "evidence:\n  - {id: D1, process: OSP-3, kind: documentation, path: d.pdf}\n",
        lambda r: sparse(r / "d.pdf", "%PDF\n", 64 * 1024 ** 3)))),
    ("5 paths (symlinks) to one 200 MiB document", many_paths_one_file),
    ("5,000 service levels x 5,000 items they cover", slas_by_items("activity")),
    ("5,000 service levels x 5,000 items of a type", slas_by_items("load")),
    ("15 MB title (no alias), -f json", big_title("json")),
    ("15 MB title (no alias), -f oscal", big_title("oscal")),
    ("15 MB title (no alias), -f html", big_title("html")),
    ("100 yearly metrics, period 0001..9999", long_period),
    ("verify: named pipe as bundle.yaml", verify_with(fifo_manifest)),
    ("verify: 20 GiB manifest (sparse)", verify_with(sparse_manifest)),
    ("verify: 1 GiB report (sparse)", verify_with(sparse_report)),
    ("verify: report nested 100,000 deep", verify_with(deep_report)),
    ("zip: the northwind sample folder (baseline)", lambda t: [
        "validate", str(ROOT / "evidence" / "northwind")]),
    ("zip: the northwind sample (baseline)", archive(sample_zip)),
    ("zip bomb: 3.5 GiB of zeros in a 3.6 MB zip", archive(
        lambda t: _support().zip_bomb(t / "bomb.zip"))),
    ("zip bomb, --max-archive-bytes raised to 1 TiB", archive(
        lambda t: _support().zip_bomb(t / "bomb.zip"), "--max-archive-bytes", str(1 << 40))),
    ("overlapping entries: 200 x 64 MiB from one block", archive(
        lambda t: _support().overlapping_zip(t / "o.zip"))),
    ("nested zips: 16 zips of 512 MiB bombs", archive(
        lambda t: _support().nested_zip(t / "n.zip"))),
    ("zip whose headers say 1000 bytes for 16 MiB", archive(
        lambda t: _support().lying_zip(t / "l.zip"))),
    ("tar.gz: a sparse member of 1 TiB", archive(
        lambda t: _support().sparse_tar(t / "s.tar.gz"))),
    ("tar.gz: a header declaring 3 GiB of zeros", archive(
        lambda t: _support().declared_tar(t / "d.tar.gz"))),
    ("tar.gz: 2,000 members of 1 MiB zeros (gzip bomb)", archive(
        lambda t: _support().many_small_tar(t / "m.tgz"))),
    *INPUT_CASES,
]


def _support() -> Any:
    sys.path.insert(0, str(ROOT / "tests"))
    import archive_support   # noqa: PLC0415 - the tests' builders, loaded when needed

    return archive_support


def run_case(setup: Setup, timeout: float, root: Path = ROOT) -> tuple[str, float, float, str]:
    """(outcome, seconds, peak RSS MiB, first line of stderr) of one attack, run by the
    ism3rules of `root`."""
    with tempfile.TemporaryDirectory() as tmp:
        args = setup(Path(tmp))
        read, write = os.pipe()
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=root,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, pass_fds=(write,),
                                   env={**os.environ, "ISM3_BENCH_FD": str(write)})
        os.close(write)
        try:
            _, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            os.close(read)
            return "timeout", time.perf_counter() - started, float("nan"), ""
        with os.fdopen(read) as handle:
            measured = json.loads(handle.read() or '{"code": -1, "seconds": 0, "rss": 0}')
        outcome = {0: "accepted", 1: "exit 1", 2: "refused"}.get(measured["code"],
                                                               f"exit {measured['code']}")
        message = (errors.splitlines() or [""])[0].removeprefix("ism3: error: ")
        message = message.split(": ", 1)[-1] if message.startswith("/") else message
        return outcome, measured["seconds"], measured["rss"], message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the attacks whose name holds this")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--inputs", action="store_true",
                        help="only the attacks on input files that are not bundles")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout of ism3rules to attack (default: this one)")
    options = parser.parse_args()
    print(f"{'attack':46} {'outcome':9} {'seconds':>8} {'peak MiB':>9}  message")
    for name, setup in CASES:
        if options.only.lower() not in name.lower():
            continue
        if options.inputs and (name, setup) not in INPUT_CASES and "baseline" not in name:
            continue
        outcome, seconds, rss, message = run_case(setup, options.timeout, options.root)
        print(f"{name:46} {outcome:9} {seconds:8.3f} {rss:9.0f}  {message[:90]}", flush=True)


if __name__ == "__main__":
    main()
