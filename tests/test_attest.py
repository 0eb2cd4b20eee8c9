"""Signed attestations: keys from openssl, envelopes checked independently, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cli import main
from conftest import ROOT

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None and not os.environ.get("CI"),
                                   reason="openssl not installed")


def _openssl(*args: str) -> None:
    if OPENSSL is None:
        pytest.fail("openssl is needed for these tests (CI must have it)")
    subprocess.run([OPENSSL, *args], check=True, capture_output=True)


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A copy of harbor-clinic, its review, an HTML deliverable, openssl-made keys."""
    bundle = tmp_path / "harbor-clinic"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", bundle)
    review = tmp_path / "review.yaml"
    shutil.copyfile(ROOT / "evidence" / "harbor-clinic.review.yaml", review)
    report = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["evaluate", str(bundle), "--review", str(review),
                                       "-f", "html", "-o", str(report)])
    assert result.exit_code == 0, result.output
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(tmp_path / "key.pem"))
    _openssl("pkey", "-in", str(tmp_path / "key.pem"), "-pubout", "-out",
             str(tmp_path / "key.pub"))
    return {"bundle": bundle, "review": review, "report": report, "key": tmp_path / "key.pem",
            "pub": tmp_path / "key.pub", "dir": tmp_path}


def _sign(s: dict[str, Path], *extra: str, key: Path | None = None,
          env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["sign", str(s["report"]), "--key", str(key or s["key"]),
                                     "--bundle", str(s["bundle"]), "--review", str(s["review"]),
                                     "-o", str(s["dir"] / "report.sig"), *extra], env=env)


def _verify(s: dict[str, Path], pub: Path | None = None, review: bool = True) -> Any:
    return CliRunner().invoke(main, ["verify", str(s["report"]), str(s["bundle"]),
                                     "--signature", str(s["dir"] / "report.sig"),
                                     "--public-key", str(pub or s["pub"]),
                                     *(["--review", str(s["review"])] if review else [])])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_openssl
def test_the_envelope_verifies_independently_of_the_code_that_made_it(setup: dict[str, Path]
                                                                     ) -> None:
    s = setup
    result = _sign(s)
    assert result.exit_code == 0, result.output
    envelope = json.loads((s["dir"] / "report.sig").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    # DSSE v1 pre-authentication encoding, written out here from the specification
    ptype = b"application/vnd.in-toto+json"
    pae = b"DSSEv1 " + str(len(ptype)).encode() + b" " + ptype + b" " + \
        str(len(payload)).encode() + b" " + payload
    public = serialization.load_pem_public_key(s["pub"].read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae)  # raises if invalid
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert envelope["signatures"][0]["keyid"] == hashlib.sha256(raw).hexdigest()
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "urn:ism3rules:predicate:assessment-report:v1"
    subjects = {x["name"]: x["digest"]["sha256"] for x in statement["subject"]}
    expected = {"report.html": _sha(s["report"]), "review/review.yaml": _sha(s["review"]),
                "bundle/bundle.yaml": _sha(s["bundle"] / "bundle.yaml")}
    for doc in (s["bundle"] / "docs").iterdir():
        expected[f"bundle/docs/{doc.name}"] = _sha(doc)
    assert subjects == expected
    pred = statement["predicate"]
    report = json.loads(CliRunner().invoke(main, ["evaluate", str(s["bundle"]), "-f", "json"])
                        .output)
    assert pred["tool"] == {"name": "ism3rules", "version": report["tool"]["version"]}
    assert pred["rules_sha256"] == report["inputs"]["rules_sha256"]
    assert pred["profiles"] == report["inputs"]["profiles"]
    assert pred["bundle"]["bundle_sha256"] == report["inputs"]["bundle_sha256"]
    assert pred["signer"]["name"] == "Jane Roe" and pred["signed_at"].endswith("+00:00")
    verified = _verify(s)
    assert verified.exit_code == 0, verified.output
    assert verified.output.splitlines()[-1].startswith("VALID: ")


@needs_openssl
@pytest.mark.parametrize("target", ["report", "bundle.yaml", "docs/osp-3-procedure.md",
                                    "docs/osp-10-procedure.md", "review"])
def test_tampering_with_any_subject_fails_verification_and_names_it(setup: dict[str, Path],
                                                                    target: str) -> None:
    s = setup
    assert _sign(s).exit_code == 0
    path = s[target] if target in ("report", "review") else s["bundle"] / target
    path.write_bytes(path.read_bytes() + b"\n# changed\n")
    result = _verify(s)
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.strip().startswith("FAILED")]
    name = {"report": "report ", "review": "review "}.get(target, f"bundle file {target}")
    assert len(failed) == 1 and name in failed[0], result.output
    assert "signed, now" in failed[0]
    assert result.output.splitlines()[-1].startswith("INVALID: 1 check(s) failed")


@needs_openssl
def test_a_removed_or_added_bundle_file_fails(setup: dict[str, Path]) -> None:
    s = setup
    assert _sign(s).exit_code == 0
    (s["bundle"] / "docs" / "osp-5-procedure.md").unlink()
    result = _verify(s)
    assert result.exit_code == 1
    assert "bundle file docs/osp-5-procedure.md: signed, now missing" in result.output


@needs_openssl
def test_an_altered_or_truncated_envelope_or_another_key_is_a_clear_failure(
        setup: dict[str, Path]) -> None:
    s = setup
    assert _sign(s).exit_code == 0
    sig = s["dir"] / "report.sig"
    good = sig.read_text()
    envelope = json.loads(good)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    cases = {
        "altered": (json.dumps(envelope), "does not verify with this public key"),
        "truncated": (good[: len(good) // 2], "not a complete DSSE envelope"),
        "other type": (good.replace("application/vnd.in-toto+json", "text/plain"),
                       "payloadType is 'text/plain'"),
        "bad base64": (good.replace(envelope["signatures"][0]["sig"], "***"), "not base64"),
    }
    for name, (text, message) in cases.items():
        sig.write_text(text)
        result = _verify(s)
        assert result.exit_code == 1, (name, result.output)
        assert message in result.output and "Traceback" not in result.output, (name, result.output)
    sig.write_text(good)
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(s["dir"] / "other.pem"))
    _openssl("pkey", "-in", str(s["dir"] / "other.pem"), "-pubout", "-out",
             str(s["dir"] / "other.pub"))
    result = _verify(s, pub=s["dir"] / "other.pub")
    assert result.exit_code == 1 and "does not verify with this public key" in result.output
    result = _verify(s, review=False)
    assert result.exit_code == 1 and "give it with --review" in result.output


@needs_openssl
def test_an_encrypted_openssl_key_takes_its_passphrase_from_the_environment(
        setup: dict[str, Path]) -> None:
    s = setup
    enc = s["dir"] / "enc.pem"
    _openssl("genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:s3cret",
             "-out", str(enc))
    assert b"ENCRYPTED" in enc.read_bytes()
    _openssl("pkey", "-in", str(enc), "-passin", "pass:s3cret", "-pubout", "-out",
             str(s["dir"] / "enc.pub"))
    ok = _sign(s, key=enc, env={"ISM3_KEY_PASSPHRASE": "s3cret"})
    assert ok.exit_code == 0, ok.output
    assert _verify(s, pub=s["dir"] / "enc.pub").exit_code == 0
    wrong = _sign(s, key=enc, env={"ISM3_KEY_PASSPHRASE": "guess"})
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.output
    assert "Traceback" not in wrong.output
    none = _sign(s, key=enc, env={"ISM3_KEY_PASSPHRASE": ""})
    assert none.exit_code == 2 and "set ISM3_KEY_PASSPHRASE" in none.output


@needs_openssl
@pytest.mark.parametrize("algorithm, options, label", [
    ("RSA", ["-pkeyopt", "rsa_keygen_bits:2048"], "an RSA key"),
    ("EC", ["-pkeyopt", "ec_paramgen_curve:P-256"], "an EC key")])
def test_keys_of_another_type_are_refused(setup: dict[str, Path], algorithm: str,
                                          options: list[str], label: str) -> None:
    s = setup
    key, pub = s["dir"] / f"{algorithm}.pem", s["dir"] / f"{algorithm}.pub"
    _openssl("genpkey", "-algorithm", algorithm, *options, "-out", str(key))
    _openssl("pkey", "-in", str(key), "-pubout", "-out", str(pub))
    result = _sign(s, key=key)
    assert result.exit_code == 2 and label in result.output and "ed25519" in result.output
    assert _sign(s).exit_code == 0
    result = _verify(s, pub=pub)
    assert result.exit_code == 2 and label in result.output
    result = _sign(s, key=s["pub"])
    assert result.exit_code == 2 and "this is a public key" in result.output


@needs_openssl
def test_sign_refuses_a_report_not_made_from_the_inputs(setup: dict[str, Path]) -> None:
    s = setup
    other = s["dir"] / "other.yaml"
    other.write_text(s["review"].read_text().replace("J. Roe", "A. Other"))
    result = CliRunner().invoke(main, ["sign", str(s["report"]), "--key", str(s["key"]),
                                       "--bundle", str(s["bundle"]), "--review", str(other)])
    assert result.exit_code == 2 and "made without this review" in result.output
    result = CliRunner().invoke(main, ["sign", str(s["report"]), "--key", str(s["key"]),
                                       "--bundle", str(ROOT / "evidence" / "northwind")])
    assert result.exit_code == 2 and "does not name the digest of" in result.output
    result = CliRunner().invoke(main, ["sign", str(s["report"]), "--key", str(s["key"])])
    assert result.exit_code == 2 and "give the bundle it was made from with --bundle" in \
        result.output


@needs_openssl
def test_a_json_report_names_its_own_inputs(setup: dict[str, Path]) -> None:
    s = setup
    report = s["dir"] / "report.json"
    assert CliRunner().invoke(main, ["evaluate", str(s["bundle"]), "-f", "json", "-o",
                                     str(report)]).exit_code == 0
    result = CliRunner().invoke(main, ["sign", str(report), "--key", str(s["key"])])
    assert result.exit_code == 0, result.output
    sig = report.with_name("report.json.dsse.json")
    assert sig.exists()
    check = CliRunner().invoke(main, ["verify", str(report), str(s["bundle"]), "--signature",
                                      str(sig), "--public-key", str(s["pub"])])
    assert check.exit_code == 0, check.output
    (s["bundle"] / "docs" / "osp-3-procedure.md").write_text("changed\n")
    again = CliRunner().invoke(main, ["sign", str(report), "--key", str(s["key"]), "--bundle",
                                      str(s["bundle"])])
    assert again.exit_code == 2 and "was not made from" in again.output


@needs_openssl
def test_keygen_makes_keys_openssl_reads(tmp_path: Path) -> None:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub"
    result = CliRunner().invoke(main, ["keygen", str(private), str(public), "--encrypt"],
                                env={"ISM3_KEY_PASSPHRASE": "pw"})
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    out = tmp_path / "from-openssl.pub"
    _openssl("pkey", "-in", str(private), "-passin", "pass:pw", "-pubout", "-out", str(out))
    assert out.read_bytes() == public.read_bytes()
    again = CliRunner().invoke(main, ["keygen", str(private), str(public)])
    assert again.exit_code == 2 and "never overwritten" in again.output
