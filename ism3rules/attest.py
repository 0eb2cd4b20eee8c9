"""Signed attestations: a DSSE envelope over an in-toto Statement about a report.

`sign` states, with an Ed25519 signature, that a report file was made from a bundle
(every file of it, by sha256), with a review file when one was used, by this tool
with these rules and profiles. `verify` checks the signature and that the files at
hand are the ones named. Cryptography is the `cryptography` package's; nothing here
is hand-written beyond DSSE's pre-authentication encoding, which is a byte layout.

Formats: DSSE v1 envelope (payloadType `application/vnd.in-toto+json`), in-toto
Statement v1, predicate type `PREDICATE_TYPE` (docs/auditing.md describes it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from .errors import AttestationError
from .inputfiles import (MAX_KEY_BYTES, PRIVATE_KEY, PUBLIC_KEY, REVIEW, SIGNATURE, SIGNED_REPORT,
                         JsonProblem, Kind, parse_json, read_input)
from .limits import DEFAULT_LIMITS, Limits

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:ism3rules:predicate:assessment-report:v1"
PASSPHRASE_ENV = "ISM3_KEY_PASSPHRASE"
BUNDLE_PREFIX = "bundle/"
REVIEW_PREFIX = "review/"
MAX_ENVELOPE_BYTES = DEFAULT_LIMITS.max_signature_bytes   # --max-signature-bytes
_ED25519_HELP = ("ism3 signs with Ed25519 keys: `openssl genpkey -algorithm ed25519 -out "
                 "key.pem` (public half: `openssl pkey -in key.pem -pubout -out key.pub`) or "
                 "`ism3 keygen`")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _kind_of(key: object) -> str:
    """A key's algorithm as people name it (RSA, EC, ...)."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x448, x25519

    for types, label in (((rsa.RSAPrivateKey, rsa.RSAPublicKey), "RSA"),
                         ((ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey), "EC"),
                         ((dsa.DSAPrivateKey, dsa.DSAPublicKey), "DSA"),
                         ((ed448.Ed448PrivateKey, ed448.Ed448PublicKey), "Ed448"),
                         ((x25519.X25519PrivateKey, x25519.X25519PublicKey), "X25519"),
                         ((x448.X448PrivateKey, x448.X448PublicKey), "X448")):
        if isinstance(key, types):
            return label
    return type(key).__name__


def load_private_key(path: Path, passphrase: Callable[[], bytes | None]) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (PKCS#8, encrypted or not).

    `passphrase()` is asked only when the key is encrypted.

    Raises:
        AttestationError: unreadable, not a PEM private key, a wrong passphrase, or a
            key of another type.
    """
    data = read_input(path, PRIVATE_KEY, MAX_KEY_BYTES)
    if b"-----BEGIN" not in data:
        raise AttestationError(f"{path}: not a PEM file; {_ED25519_HELP}")
    encrypted = b"ENCRYPTED" in data
    password = passphrase() if encrypted else None
    if encrypted and not password:
        raise AttestationError(f"{path}: the key is encrypted; set {PASSPHRASE_ENV} or run "
                               "in a terminal to be asked for the passphrase")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:   # encryption not announced in the PEM header, or the reverse
        raise AttestationError(f"{path}: the key is encrypted; set {PASSPHRASE_ENV} or run in "
                               "a terminal to be asked for the passphrase") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        if encrypted:
            raise AttestationError(f"{path}: wrong passphrase (or a damaged key file)") from exc
        if b"PUBLIC KEY" in data:
            raise AttestationError(f"{path}: this is a public key; signing needs the private "
                                   "key") from exc
        raise AttestationError(f"{path}: not a readable private key ({exc}); "
                               f"{_ED25519_HELP}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AttestationError(f"{path}: an {_kind_of(key)} key; {_ED25519_HELP}")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (SubjectPublicKeyInfo).

    Raises:
        AttestationError: unreadable, not a PEM public key, or a key of another type.
    """
    data = read_input(path, PUBLIC_KEY, MAX_KEY_BYTES)
    if b"PRIVATE KEY" in data:
        raise AttestationError(f"{path}: this is a private key; give the public key "
                               "(`openssl pkey -in key.pem -pubout`), and keep the private "
                               "one private")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AttestationError(f"{path}: not a readable PEM public key; {_ED25519_HELP}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AttestationError(f"{path}: an {_kind_of(key)} key; {_ED25519_HELP}")
    return key


def keyid(key: Ed25519PublicKey) -> str:
    """The key id written in the envelope: sha256 of the raw 32-byte public key, hex."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keypair(private_path: Path, public_path: Path, passphrase: bytes | None) -> str:
    """Write a new Ed25519 key pair (PKCS#8 PEM, private file mode 0600); return its key id.

    Raises:
        OSError: a file exists or cannot be written.
    """
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                encryption)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    public_path.write_bytes(public)
    return keyid(key.public_key())


def sha256_file(path: Path, kind: Kind = SIGNED_REPORT,
                limit: int = DEFAULT_LIMITS.max_report_bytes) -> str:
    """The sha256 of an input file (a report, a review), hex, read by the bounded reader
    of input files within `limit` (`kind` names it in messages).

    Raises:
        Ism3Error (`kind.error`): the file cannot be read, is not a regular file or is
            larger than `limit`.
    """
    return hashlib.sha256(read_input(path, kind, limit)).hexdigest()


def read_review_sha256(review: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """The sha256 of a review file, within `limits.max_review_bytes`. Raises ReviewError."""
    return sha256_file(review, REVIEW, limits.max_review_bytes)


@dataclass(frozen=True)
class Inputs:
    """What a statement is about: the report, the bundle's files, the review."""

    report: Path
    bundle_files: tuple[tuple[str, str | None], ...]   # (path in the bundle, sha256 or None)
    bundle_sha256: str
    review: Path | None
    tool_version: str
    rules_sha256: str
    profiles: tuple[tuple[str, str], ...]              # (id, sha256)
    # the digests of the report and of the review, of the very bytes that were checked
    # (empty: read them when the statement is made)
    report_sha256: str = ""
    review_sha256: str | None = None


def statement(inputs: Inputs, signer: str | None, key: Ed25519PublicKey,
              signed_at: datetime) -> dict[str, Any]:
    """The in-toto Statement v1 about `inputs`."""
    report_sha = inputs.report_sha256 or sha256_file(inputs.report)
    subjects = [{"name": inputs.report.name, "digest": {"sha256": report_sha}}]
    subjects += [{"name": BUNDLE_PREFIX + path, "digest": {"sha256": sha}}
                 for path, sha in inputs.bundle_files if sha]
    if inputs.review is not None:
        review_sha = inputs.review_sha256 or read_review_sha256(inputs.review)
        subjects.append({"name": REVIEW_PREFIX + inputs.review.name,
                         "digest": {"sha256": review_sha}})
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "tool": {"name": "ism3rules", "version": inputs.tool_version},
            "report": inputs.report.name,
            "bundle": {"subject_prefix": BUNDLE_PREFIX, "bundle_sha256": inputs.bundle_sha256,
                       "files": len(inputs.bundle_files),
                       "missing": [p for p, sha in inputs.bundle_files if not sha]},
            "review": (REVIEW_PREFIX + inputs.review.name) if inputs.review else None,
            "rules_sha256": inputs.rules_sha256,
            "profiles": [{"id": pid, "sha256": sha} for pid, sha in inputs.profiles],
            "signer": {"name": signer, "keyid": keyid(key)},
            "signed_at": signed_at.isoformat(timespec="seconds"),
        },
    }


def sign(statement_: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """The DSSE envelope (JSON text, final newline) signing `statement_` with `key`."""
    payload = json.dumps(statement_, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=True).encode("utf-8")
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {"payloadType": PAYLOAD_TYPE,
                "payload": base64.b64encode(payload).decode("ascii"),
                "signatures": [{"keyid": keyid(key.public_key()),
                                "sig": base64.b64encode(signature).decode("ascii")}]}
    return json.dumps(envelope, indent=2) + "\n"


# -- verifying ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One thing verified: a subject or the signature, and whether it holds."""

    subject: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying an attestation against the files at hand."""

    checks: tuple[Check, ...]
    predicate: dict[str, Any]

    @property
    def valid(self) -> bool:
        """Whether the signature verifies and every subject matches."""
        return bool(self.checks) and all(c.ok for c in self.checks)


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_"
                                if ("-" in text or "_" in text) else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64 ({exc})") from exc


def read_envelope(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a signature envelope, read once within `limits.max_signature_bytes`.

    Raises:
        AttestationError: missing, not a regular file (a pipe or a device is never
            opened), or larger than the limit.
    """
    return read_input(path, SIGNATURE, limits.max_signature_bytes)


def signed_bundle_paths(raw: bytes) -> list[str]:
    """The bundle paths an envelope's statement names, unverified (only so that the same
    files are hashed when the bundle no longer loads); [] when it names none."""
    try:
        envelope = parse_json(raw)
        statement_ = parse_json(_b64(envelope.get("payload") if isinstance(envelope, dict)
                                     else None, "payload"))
        subjects = statement_.get("subject") if isinstance(statement_, dict) else None
    except (JsonProblem, ValueError):
        return []
    if not isinstance(subjects, list):
        return []
    names = [s.get("name") for s in subjects if isinstance(s, dict)]
    return [n[len(BUNDLE_PREFIX):] for n in names
            if isinstance(n, str) and n.startswith(BUNDLE_PREFIX)]


def open_envelope(path: Path, key: Ed25519PublicKey,
                  raw: bytes | None = None) -> tuple[dict[str, Any] | None, Check]:
    """Check the signature of the DSSE envelope `raw` (the bytes read from `path`, read
    here when not given) with `key`.

    Returns (the statement, when the signature verifies, and the check). A truncated,
    altered or foreign envelope is a failed check, never an exception.

    Raises:
        AttestationError: the file cannot be read at all.
    """
    if raw is None:
        raw = read_envelope(path)
    try:
        envelope = parse_json(raw)
        if not isinstance(envelope, dict):
            raise ValueError("not a JSON object")
        if envelope.get("payloadType") != PAYLOAD_TYPE:
            raise ValueError(f"payloadType is {str(envelope.get('payloadType'))[:80]!r}, not "
                             f"{PAYLOAD_TYPE!r}")
        payload = _b64(envelope.get("payload"), "payload")
        signatures = envelope.get("signatures")
        if not isinstance(signatures, list) or not signatures:
            raise ValueError("no signatures")
        sigs = [(s.get("keyid"), _b64(s.get("sig"), "sig")) for s in signatures
                if isinstance(s, dict)]
    except JsonProblem as exc:
        return None, Check("signature", False, f"{path} is not a complete DSSE envelope "
                                               f"(truncated or not strict JSON: {exc})")
    except ValueError as exc:
        return None, Check("signature", False, f"{path} is not a valid DSSE envelope ({exc})")
    message = pae(PAYLOAD_TYPE, payload)
    for _kid, sig in sigs:
        try:
            key.verify(sig, message)
        except InvalidSignature:
            continue
        break
    else:
        kids = ", ".join(str(k)[:16] for k, _ in sigs)
        return None, Check("signature", False, f"does not verify with this public key (key id "
                                               f"{keyid(key)[:16]}...; envelope signed by "
                                               f"{kids or 'unknown'}...): altered, or signed "
                                               "with another key")
    try:
        stmt = parse_json(payload)
    except JsonProblem as exc:
        return None, Check("signature", False, f"the signed payload is not strict JSON ({exc})")
    if (not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE
            or stmt.get("predicateType") != PREDICATE_TYPE
            or not isinstance(stmt.get("subject"), list)
            or not isinstance(stmt.get("predicate"), dict)):
        return None, Check("signature", False, "the signed payload is not an ism3rules in-toto "
                                               f"statement ({PREDICATE_TYPE})")
    pred = stmt["predicate"]
    signer = _mapping(pred.get("signer"))
    return stmt, Check("signature", True, f"Ed25519 key {keyid(key)[:16]}..., signer "
                                          f"{_str(signer.get('name')) or 'not named'}, signed at "
                                          f"{_str(pred.get('signed_at'))}")


def _mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (a statement is read defensively)."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    """`value` when it is text, else '' (a statement is read defensively)."""
    return value if isinstance(value, str) else ""


def verify(signature: Path, key: Ed25519PublicKey, report: Path,
           bundle_files: Sequence[tuple[str, str | None]], review: Path | None, *,
           envelope: bytes | None = None, limits: Limits = DEFAULT_LIMITS) -> Verdict:
    """Check `signature` and compare its subjects with the files at hand.

    `bundle_files`: (path, sha256) of the bundle's manifest and referenced files now.
    `envelope`: the bytes already read from `signature` (read here when not given).
    The report and the review are read within `limits` (report and review bytes).

    Raises:
        AttestationError: the envelope or the report cannot be read (or is over its limit).
        ReviewError: the review file cannot be read (or is over its limit).
    """
    stmt, sig_check = open_envelope(signature, key, envelope)
    if stmt is None:
        return Verdict((sig_check,), {})
    checks = [sig_check]
    pred = stmt["predicate"]
    digests: dict[str, str] = {}
    for subject in stmt["subject"]:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            digests[str(subject.get("name"))] = str(subject["digest"].get("sha256"))
    report_name = str(pred.get("report"))
    now = sha256_file(report, SIGNED_REPORT, limits.max_report_bytes)
    if report_name not in digests:
        checks.append(Check("report", False, "the statement names no report"))
    elif digests[report_name] == now:
        checks.append(Check(f"report {report}", True, f"sha256 {now[:12]}..."))
    else:
        checks.append(Check(f"report {report}", False, f"sha256 {digests[report_name][:12]}... "
                                                       f"signed, now {now[:12]}..."))
    signed_bundle = _mapping(pred.get("bundle"))
    prefix = _str(signed_bundle.get("subject_prefix")) or BUNDLE_PREFIX
    signed = {name[len(prefix):]: sha for name, sha in digests.items() if name.startswith(prefix)}
    missing = signed_bundle.get("missing")
    missing_then = {m for m in missing if isinstance(m, str)} if isinstance(missing, list) else set()
    current = {path: sha for path, sha in bundle_files}
    bundle_ok = True
    for path in sorted(set(signed) | set(current) | missing_then):
        old, new = signed.get(path), current.get(path)
        if path in missing_then and path in current and new is None:
            continue   # missing when signed, missing now
        if old is not None and old == new:
            continue
        bundle_ok = False
        if path not in current:
            detail = "signed, no longer referenced by the bundle"
        elif old is None and path not in missing_then:
            detail = "referenced by the bundle now, not signed"
        elif new is None:
            detail = "signed, now missing or unreadable"
        elif old is None:
            detail = f"missing when signed, now present (sha256 {new[:12]}...)"
        else:
            detail = f"sha256 {old[:12]}... signed, now {new[:12]}..."
        checks.append(Check(f"bundle file {path}", False, detail))
    if bundle_ok:
        checks.append(Check("bundle", True, f"{len(current)} files match"))
    review_name = pred.get("review")
    if review_name and review is None:
        checks.append(Check("review", False, f"the statement covers a review file "
                                             f"({review_name}); give it with --review"))
    elif review is not None and not review_name:
        checks.append(Check(f"review {review}", False, "the statement covers no review file"))
    elif review is not None:
        now = read_review_sha256(review, limits)
        old = digests.get(str(review_name))
        checks.append(Check(f"review {review}", old == now,
                            f"sha256 {now[:12]}..." if old == now else
                            f"sha256 {str(old)[:12]}... signed, now {now[:12]}..."))
    return Verdict(tuple(checks), pred)


# -- what a signature is about -------------------------------------------------------------
def _bundle_files(bundle: Path, limits: Limits | None = None
                  ) -> tuple[tuple[str, str | None], ...]:
    """(path, sha256) of a bundle's manifest and every file it references, sorted: the
    loader's own digests, of the very bytes it read (no second reading).

    Raises:
        EvidenceError: the bundle cannot be read.
    """
    from .evidence import load_bundle

    return tuple((f.path, f.sha256) for f in load_bundle(bundle, limits=limits or DEFAULT_LIMITS).files)


def current_bundle_files(bundle: Path, signed_paths: Sequence[str],
                         limits: Limits | None = None
                         ) -> tuple[tuple[tuple[str, str | None], ...], str | None]:
    """The bundle's files now, and a note when its manifest no longer reads as a bundle
    (then the files the statement names are hashed, so that every change still shows).

    Raises:
        EvidenceError: the bundle folder or manifest cannot be found.
    """
    from .digests import file_digests
    from .errors import EvidenceError
    from .evidence import MANIFEST, find_manifest

    try:
        return _bundle_files(bundle, limits), None
    except EvidenceError as exc:
        root, manifest = find_manifest(bundle)
        files = file_digests(root, manifest, [p for p in signed_paths if p != MANIFEST],
                             limits or DEFAULT_LIMITS)
        return (tuple((f.path, f.sha256) for f in files),
                f"{MANIFEST} is no longer a valid bundle: {str(exc).splitlines()[0]}")


def collect_inputs(report: Path, bundle: Path | None, review: Path | None,
                   rules_dir: Path | None = None, profile_refs: Sequence[str] = (), *,
                   limits: Limits = DEFAULT_LIMITS, review_sha256: str | None = None) -> Inputs:
    """What `ism3 sign` attests, checked against the report so that a signature never
    covers a report together with inputs it was not made from.

    A JSON report (ism3-report/1) names its inputs: they must equal the bundle (and
    review) at hand; without --bundle they are taken from it. Any other report (HTML,
    Markdown, OSCAL) must name the bundle's digest, the rules' digest and the review's
    digest in its text, as those formats do. The report and the review are each read
    once, within `limits`: what is checked is what is signed. `review_sha256`: the
    digest of the review when the caller has read it already.

    Raises:
        AttestationError: a mismatch, a report that names none of its inputs, or a report
            that cannot be read (or is over its limit).
        ReportError: a JSON report that does not match its own digests.
        ReviewError: the review cannot be read (or is over its limit).
        EvidenceError, RuleError, ProfileError: the bundle, rules or a profile cannot be read.
    """
    from . import __version__
    from .digests import FileDigest, combined_digest
    from .profiles import list_shipped, resolve_profile
    from .report import SCHEMA
    from .report_check import check_report
    from .rules import load_rulebook

    raw = read_input(report, SIGNED_REPORT, limits.max_report_bytes)
    report_sha = hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8", errors="replace")
    document: dict[str, Any] | None = None
    try:
        loaded = parse_json(raw, limits.max_report_depth)
        if isinstance(loaded, dict) and loaded.get("schema") == SCHEMA:
            document = loaded
    except JsonProblem as problem:
        if text.lstrip()[:1] in ("{", "["):     # JSON, damaged: never judged by its text
            where = f"{report}:{problem.line}" if problem.line else str(report)
            raise AttestationError(f"{where}: not valid JSON ({problem}); sign the report "
                                   "as `ism3 evaluate` wrote it") from None
        # not a JSON report: another format, judged by its text
    if review is not None and review_sha256 is None:
        review_sha256 = read_review_sha256(review, limits)
    if document is not None:
        check_report(document, str(report))   # its shape, and its digests agree with each other
        inputs = document["inputs"]
        recorded = tuple((str(f["path"]), f.get("sha256")) for f in inputs["bundle_files"])
        files = _bundle_files(bundle, limits) if bundle is not None else recorded
        if files != recorded:
            changed = sorted({p for p, _ in set(files) ^ set(recorded)})
            raise AttestationError(f"{report}: was not made from {bundle} as it is now "
                                   f"({', '.join(changed[:5])} differ); `ism3 verify` says "
                                   "more; evaluate again before signing")
        made_with = _str(_mapping(document.get("review")).get("sha256")) or None
        if made_with and review is None:
            raise AttestationError(f"{report}: was made with a review file (sha256 "
                                   f"{made_with[:12]}...); give it with --review")
        if review is not None and made_with != review_sha256:
            raise AttestationError(f"{report}: was not made with {review} "
                                   + ("(it records no review)" if not made_with else
                                      f"(it records review sha256 {made_with[:12]}...)"))
        return Inputs(report, files, combined_digest(FileDigest(p, s) for p, s in files), review,
                      _str(_mapping(document.get("tool")).get("version")) or __version__,
                      str(inputs["rules_sha256"]),
                      tuple((str(p["id"]), str(p["sha256"])) for p in inputs["profiles"]),
                      report_sha, review_sha256)
    if bundle is None:
        raise AttestationError(f"{report}: not a JSON report; give the bundle it was made "
                               "from with --bundle BUNDLE")
    files = _bundle_files(bundle, limits)
    combined = combined_digest(FileDigest(p, s) for p, s in files)
    if combined not in text:
        raise AttestationError(f"{report}: does not name the digest of {bundle} ({combined[:12]}"
                               "...): it was made from another bundle, or its format records "
                               "no digests (sign a json, html, markdown or oscal report)")
    rules = load_rulebook(rules_dir).digest
    if rules not in text:
        raise AttestationError(f"{report}: does not name the digest of the rules "
                               f"({rules[:12]}...); give the --rules-dir it was made with")
    if review_sha256 is not None and review_sha256 not in text:
        raise AttestationError(f"{report}: does not name the digest of {review} "
                               f"({review_sha256[:12]}...): it was made without this review")
    profiles = [resolve_profile(ref) for ref in profile_refs] or list(list_shipped())
    named = tuple((p.id, p.sha256) for p in profiles if p.sha256 in text)
    return Inputs(report, files, combined, review, __version__, rules, named, report_sha,
                  review_sha256)
