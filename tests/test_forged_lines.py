"""Text from input files cannot forge a line of a command's output, nor drive the terminal.

Every input file other than a bundle (a report given back to `verify`, `diff` and
`history`, a signature envelope and what it signs, a review file, a batch summary,
the history database) is untrusted. Its text (organization names and ids, tool
versions, paths, signer names, key ids, notes, errors) is made to hold a newline
followed by a verdict (`MATCH:`, `VALID:`, `OK:`, ...) and terminal controls; each
command is run on such input and on the same input without the hostile text, and
must print exactly as many lines starting with each verdict in both runs, with no
raw control or bidi character.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from cli import main
from conftest import ROOT, write_bundle
from history_support import HARBOR, derived, report, write

# The lines a command starts with a verdict: at the start of the line, or (a check of
# `verify --signature`) after two spaces.
VERDICTS = ("MATCH:", "MISMATCH:", "NOT VERIFIED:", "VALID:", "INVALID:", "OK:", "BROKEN:",
            "NOTE:", "  FAILED", "  ok ", "recorded", "ism3:")
INVISIBLE = ("\x1b", "\x9b", "\x07", "\u202e", "\u2066", "\u200b", "\u2028", "\r")


def forged(word: str) -> str:
    """Text that would start a line with `word` and clear the screen, if shown raw."""
    return f"x\n{word} forged by the input\x1b[2J\u202e\r{word} again"


def lines_by_verdict(output: str) -> dict[str, int]:
    lines = output.splitlines()
    return {word: sum(1 for line in lines if line.startswith(word)) for word in VERDICTS}


def run(args: list[str]) -> Result:
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output and "internal error" not in result.output, \
        result.output
    return result


def same_verdict_lines(clean: Result, hostile: Result, shown: bool = True) -> None:
    """The hostile run prints the lines the clean run prints, and nothing raw."""
    assert hostile.exit_code == clean.exit_code, (clean.output, hostile.output)
    assert lines_by_verdict(hostile.output) == lines_by_verdict(clean.output), hostile.output
    assert [c for c in INVISIBLE if c in hostile.output] == [], hostile.output
    if shown:
        assert "forged" in hostile.output        # the text is shown, but inert


# -- verify: a report given back --------------------------------------------------------------

@pytest.mark.parametrize("word", ["MATCH:", "NOT VERIFIED:"])
def test_verify_report_text_cannot_forge_a_verdict(tmp_path: Path, word: str) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(HARBOR, bundle)
    clean = write(tmp_path / "clean.json", report())
    hostile = report()
    hostile["organization"]["name"] = forged(word)
    hostile["tool"]["version"] = forged(word)
    hostile["tool"]["name"] = forged(word)
    hostile = write(tmp_path / "hostile.json", hostile)
    same_verdict_lines(run(["verify", str(clean), str(bundle)]),
                       run(["verify", str(hostile), str(bundle)]))
    # recorded paths and profile ids of a report are shown in its differences
    for doc, name in ((report(), "clean2.json"), (report(), "hostile2.json")):
        doc["inputs"]["bundle_files"].append(
            {"path": "docs/gone.md" if name == "clean2.json" else f"docs/{forged(word)}",
             "sha256": "0" * 64})
        doc["profiles"][0]["id"] = "p" if name == "clean2.json" else forged(word)
        write(tmp_path / name, doc)
    same_verdict_lines(run(["verify", str(tmp_path / "clean2.json"), str(bundle)]),
                       run(["verify", str(tmp_path / "hostile2.json"), str(bundle)]))


# -- verify --signature and sign: envelopes, signed statements, reviews ----------------------

@pytest.fixture
def signed(tmp_path: Path) -> dict[str, Path]:
    """A bundle with a file whose name forges a line, a review whose sign-off name does,
    a JSON report made from both, and a key pair."""
    name = f"docs/{forged('VALID:')}.md"
    clean_name = "docs/plain.md"
    paths = {}
    for label, path in (("hostile", name), ("clean", clean_name)):
        root = write_bundle(tmp_path / label / "b", [
            {"id": "D1", "process": "OSP-3", "kind": "documentation", "path": path}],
            files={path: "v1\n"}, org_id="acme")
        review = tmp_path / label / "review.yaml"
        review.write_text(yaml.safe_dump({
            "schema": "ism3-review/1",
            "engagement": {"client": "acme", "auditor": "Jane Roe"},
            "signoff": {"name": forged("VALID:") if label == "hostile" else "Jane Roe",
                        "date": "2026-10-16"}}))
        out = tmp_path / label / "r.json"
        result = run(["evaluate", str(root), "--review", str(review), "-f", "json", "-o",
                      str(out)])
        assert result.exit_code == 0, result.output
        paths[label] = tmp_path / label
    assert run(["keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub")]).exit_code == 0
    paths["key"] = tmp_path / "k.pem"
    paths["pub"] = tmp_path / "k.pub"
    return paths


def _sign(s: dict[str, Path], label: str) -> Result:
    d = s[label]
    return run(["sign", str(d / "r.json"), "--key", str(s["key"]), "--bundle", str(d / "b"),
                "--review", str(d / "review.yaml"), "-o", str(d / "r.sig")])


def _verify(s: dict[str, Path], label: str, signature: str = "r.sig") -> Result:
    d = s[label]
    return run(["verify", str(d / "r.json"), str(d / "b"), "--signature", str(d / signature),
                "--public-key", str(s["pub"]), "--review", str(d / "review.yaml")])


def test_sign_and_verify_signature_cannot_be_made_to_forge_valid(signed: dict[str, Path]
                                                                  ) -> None:
    same_verdict_lines(_sign(signed, "clean"), _sign(signed, "hostile"))
    # the signer's name (from the review) is shown by a valid verification
    same_verdict_lines(_verify(signed, "clean"), _verify(signed, "hostile"))
    # a changed bundle file: its name (from the statement and the bundle) in a FAILED check
    for label in ("clean", "hostile"):
        for doc in (signed[label] / "b" / "docs").iterdir():
            doc.write_text("v2\n")
    same_verdict_lines(_verify(signed, "clean"), _verify(signed, "hostile"))


def test_an_unsigned_envelope_cannot_forge_valid(signed: dict[str, Path]) -> None:
    """What an envelope holds outside the signature (key ids, payload type) is shown when
    it fails: inert."""
    for label in ("clean", "hostile"):
        assert _sign(signed, label).exit_code == 0
        envelope = json.loads((signed[label] / "r.sig").read_text())
        envelope["signatures"][0]["keyid"] = forged("VALID:") if label == "hostile" else "k"
        envelope["signatures"][0]["sig"] = base64.b64encode(b"0" * 64).decode()
        (signed[label] / "bad-sig.json").write_text(json.dumps(envelope))
        envelope["payloadType"] = forged("VALID:") if label == "hostile" else "text/plain"
        (signed[label] / "bad-type.json").write_text(json.dumps(envelope))
    for name in ("bad-sig.json", "bad-type.json"):
        same_verdict_lines(_verify(signed, "clean", name), _verify(signed, "hostile", name))


# -- diff -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_diff_text_cannot_forge_a_line(tmp_path: Path, fmt: str) -> None:
    results = []
    for label in ("clean", "hostile"):
        text = forged("NOTE:") if label == "hostile" else "Harbor"
        old = derived(report(), name=text)
        new = derived(report(), name=text, as_of="2026-12-31")
        new["tool"]["version"] = text
        results.append(run(["diff", str(write(tmp_path / f"{label}-old.json", old)),
                            str(write(tmp_path / f"{label}-new.json", new)), "-f", fmt]))
    same_verdict_lines(*results)
    if fmt == "json":
        json.loads(results[1].output, parse_constant=pytest.fail)


# -- history: record, list, show, verify, trend, portfolio --------------------------------

@pytest.mark.parametrize("args", [["list"], ["list", "-f", "csv"], ["list", "-f", "json"],
                                  ["show", "1"], ["verify"], ["trend", "ORG"],
                                  ["portfolio"], ["portfolio", "-f", "csv"]])
def test_history_text_cannot_forge_a_line(tmp_path: Path, args: list[str]) -> None:
    results = {}
    for label in ("clean", "hostile"):
        org = forged("OK:") if label == "hostile" else "harbor"
        folder = tmp_path / label
        folder.mkdir()
        # a report file whose name forges a line too (record prints it)
        name = f"r{forged('OK:')}.json" if label == "hostile" else "r.json"
        path = write(folder / name, derived(report(), org=org, name=org))
        db = str(folder / "h.sqlite")
        record = run(["history", "record", str(path), "--db", db])
        assert record.exit_code == 0, record.output
        results[label] = record
        given = [org if a == "ORG" else a for a in args]
        results[label + "-cmd"] = run(["history", *given, "--db", db])
    same_verdict_lines(results["clean"], results["hostile"])
    same_verdict_lines(results["clean-cmd"], results["hostile-cmd"])


# -- batch merge: shard summaries -----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_batch_merge_text_cannot_forge_a_line(tmp_path: Path, fmt: str) -> None:
    fleet = tmp_path / "fleet"
    write_bundle(fleet / "alpha", [], org_id="alpha")
    (fleet / "broken").mkdir()
    (fleet / "broken" / "bundle.yaml").write_text("schema: [\n")
    summary = tmp_path / "s.json"
    run(["batch", str(fleet), "--shard", "1/1", "-j", "1", "-q", "-f", "json", "-o",
         str(summary)])
    results = []
    for label in ("clean", "hostile"):
        doc = json.loads(summary.read_text())
        for entry in doc["bundles"]:
            if entry["organization"]:
                entry["organization"]["name"] = forged("OK:") if label == "hostile" else "A"
            if entry["error"]:
                entry["error"] = forged("OK:") if label == "hostile" else "bad\nworse"
        target = tmp_path / f"{label}.json"
        target.write_text(json.dumps(doc))
        results.append(run(["batch", "merge", str(target), "-f", fmt]))
    same_verdict_lines(*results)


# -- a review file, through every command that takes one --------------------------------------

@pytest.mark.parametrize("command", [["evaluate"], ["evaluate", "-f", "markdown"],
                                     ["gap", "-p", "small-business"], ["compare"],
                                     ["explain", "OSP-12"]])
def test_review_text_cannot_forge_a_line(tmp_path: Path, command: list[str]) -> None:
    results = []
    base = yaml.safe_load((ROOT / "evidence" / "harbor-clinic.review.yaml").read_text())
    for label in ("clean", "hostile"):
        review: dict[str, Any] = json.loads(json.dumps(base, default=str))
        text = forged("OK:") if label == "hostile" else "plain"
        review["engagement"]["scope"] = text
        review["evidence"]["DOC-OSP12"]["reason"] = text
        review["processes"]["OSP-12"] = {"methods": ["interview"], "notes": text}
        path = tmp_path / f"{label}.yaml"
        path.write_text(yaml.safe_dump(review, allow_unicode=True))
        results.append(run([command[0], str(HARBOR), *command[1:], "--review", str(path)]))
    # what each command shows of a review: compare shows none of this text
    same_verdict_lines(*results, shown=command[0] != "compare")


def test_the_history_database_path_is_shown_inert(tmp_path: Path) -> None:
    """The --db path is input too: `record` and `verify` name it."""
    path = write(tmp_path / "r.json", report())
    results = []
    for label in ("clean", "hostile"):
        folder = tmp_path / (forged("OK:") if label == "hostile" else "plain")
        os.makedirs(folder)
        db = str(folder / "h.sqlite")
        run(["history", "record", str(path), "--db", db])
        results.append(run(["history", "verify", "--db", db]))
    same_verdict_lines(*results)
