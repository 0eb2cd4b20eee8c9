"""The auditor's whole workflow, step by step through the CLI, as README and
docs/auditing.md tell it: receive, validate, review init, evaluate with the review,
sign, hand over, the client verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def test_the_auditor_workflow_end_to_end(tmp_path: Path) -> None:
    auditor, client = tmp_path / "auditor", tmp_path / "client"
    auditor.mkdir()
    # 1. receive: the client's bundle arrives
    bundle = auditor / "harbor-clinic"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", bundle)
    shutil.copytree(bundle, client / "harbor-clinic")
    # 2. validate it
    assert "valid ism3-evidence/1 bundle" in _run("validate", str(bundle))
    # 3. start the review beside it
    review = auditor / "harbor-clinic.review.yaml"
    assert "all pending" in _run("review", "init", str(bundle), "-o", str(review))
    # ... the auditor fills it in (as a person would edit the YAML)
    data = yaml.safe_load(review.read_text())
    data["engagement"].update(auditor="Jane Roe", firm="Roe & Partners", start="2026-10-12",
                              end="2026-10-16", scope="Patient administration and IT.")
    data["evidence"]["DOC-OSP12"] = {"decision": "rejected", "reason": "unsigned draft",
                                     "reviewer": "J. Roe", "date": "2026-10-14"}
    data["evidence"]["DOC-OSP3"]["decision"] = "accepted"
    dod = next(k for k in data["findings"] if k.startswith("DOD-OWNER-AUDITOR/"))
    data["findings"][dod].update(owner="Practice manager", due="2027-01-31",
                                 response="External reviewer from January.", status="open")
    data["signoff"] = {"name": "Jane Roe", "date": "2026-10-20",
                       "statement": "The evidence supports the levels stated."}
    review.write_text(yaml.safe_dump(data, sort_keys=False))
    # 4. evaluate with the review: the deliverable
    report = auditor / "harbor-clinic.html"
    _run("evaluate", str(bundle), "--review", str(review), "-f", "html", "-o", str(report))
    html = report.read_text()
    assert "Executive summary" in html and "rejected by the auditor (J. Roe, 2026-10-14): " \
        "unsigned draft" in html and "External reviewer from January." in html
    # 5. sign it
    _run("keygen", str(auditor / "roe.pem"), str(auditor / "roe.pub"))
    signature = auditor / "harbor-clinic.html.dsse.json"
    assert "as Jane Roe" in _run("sign", str(report), "--key", str(auditor / "roe.pem"),
                                 "--bundle", str(bundle), "--review", str(review))
    # 6. hand over: report, signature, review and public key (never the private key)
    for path in (report, signature, review, auditor / "roe.pub"):
        shutil.copyfile(path, client / path.name)
    # 7. the client verifies against the bundle it sent
    out = _run("verify", str(client / "harbor-clinic.html"), str(client / "harbor-clinic"),
               "--signature", str(client / signature.name), "--public-key",
               str(client / "roe.pub"), "--review", str(client / review.name))
    assert out.splitlines()[-1].startswith("VALID: ")
    # ... and would see any change to what was signed
    (client / "harbor-clinic" / "docs" / "osp-3-procedure.md").write_text("# edited later\n")
    out = _run("verify", str(client / "harbor-clinic.html"), str(client / "harbor-clinic"),
               "--signature", str(client / signature.name), "--public-key",
               str(client / "roe.pub"), "--review", str(client / review.name), code=1)
    assert "FAILED bundle file docs/osp-3-procedure.md" in out
