"""Shared test helpers: build bundles on disk from compact descriptions."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def write_bundle(root: Path, items: list[dict[str, Any]], *, period: tuple[str, str] | None = None,
                 files: dict[str, str] | None = None, org_id: str = "acme",
                 extra: dict[str, Any] | None = None) -> Path:
    """Write bundle.yaml (and `files`) under `root`; return the folder."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    doc: dict[str, Any] = {"schema": "ism3-evidence/1",
                           "organization": {"id": org_id, "name": f"{org_id} Ltd"}}
    if period:
        doc["assessment"] = {"period": {"start": period[0], "end": period[1]}}
    doc["evidence"] = items
    doc.update(extra or {})
    (root / "bundle.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def doc_item(process: str, item_id: str | None = None, path: str | None = None) -> dict[str, Any]:
    """A documentation item whose file `write_bundle(files=...)` should create."""
    return {"id": item_id or f"DOC-{process}", "process": process, "kind": "documentation",
            "title": f"{process} procedure", "path": path or f"docs/{process}.md"}


def metric_item(process: str, metric_type: str, dates: list[str] | None = None,
                item_id: str | None = None) -> dict[str, Any]:
    """A metric item with inline observations (default: one in early 2026)."""
    return {"id": item_id or f"MET-{process}-{metric_type}", "process": process, "kind": "metric",
            "metric_type": metric_type, "name": f"{metric_type} of {process}",
            "observations": [{"date": d, "value": 1} for d in (dates or ["2026-02-01"])]}


def write_evidence(root: Path, evidence: dict[str, tuple[bool, Any]], org_id: str = "case") -> Path:
    """A bundle from {process: (documented, metric types)}: one document per documented
    process, one metric with one observation (2026-03-01) per type."""
    items: list[dict[str, Any]] = []
    (root / "docs").mkdir(parents=True, exist_ok=True)
    for process, (documented, types) in sorted(evidence.items()):
        if documented:
            (root / "docs" / f"{process}.md").write_text(f"# {process} procedure\n")
            items.append({"id": f"DOC-{process}", "process": process, "kind": "documentation",
                          "path": f"docs/{process}.md"})
        for mtype in sorted(types):
            items.append({"id": f"MET-{process}-{mtype}", "process": process, "kind": "metric",
                          "metric_type": mtype,
                          "observations": [{"date": "2026-03-01", "value": 1}]})
    (root / "bundle.yaml").write_text(yaml.safe_dump(
        {"schema": "ism3-evidence/1", "organization": {"id": org_id, "name": org_id.title()},
         "evidence": items}))
    return root


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def bundle_factory(tmp_path: Path):
    """Build a bundle from {process: [metric types]} and a set of documented processes."""
    counter = iter(range(1000))

    def make(documented: list[str], metrics: dict[str, list[str]] | None = None,
             **kwargs: Any) -> Path:
        root = tmp_path / f"bundle{next(counter)}"
        items = [doc_item(p) for p in documented]
        files = {f"docs/{p}.md": f"# {p}\n" for p in documented}
        for proc, types in (metrics or {}).items():
            items += [metric_item(proc, t) for t in types]
        return write_bundle(root, items, files=files, **kwargs)

    return make


# -- the history store: the same tests on SQLite and on PostgreSQL ---------------------------

POSTGRES_ENV = "ISM3_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _no_real_history(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                     ) -> None:
    """No test ever writes to the user's real history database."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    monkeypatch.delenv("ISM3_DB", raising=False)


def postgres_base_url() -> str:
    """The PostgreSQL server the tests may use (.ci/run starts one and sets the URL).

    Outside CI without a URL the test is skipped; on CI, or when a URL is given but
    the server does not answer, it fails.
    """
    import os

    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: on CI, .ci/run starts PostgreSQL and sets it")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def history_db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A URL of an empty history database: an SQLite file, or a fresh PostgreSQL schema
    (dropped afterwards) on the server of ISM3_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "history.sqlite")
        return
    import uuid

    import sqlalchemy as sa

    base = sa.make_url(postgres_base_url()).set(drivername="postgresql+psycopg")
    schema = f"ism3_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, connect_args={"connect_timeout": 10})
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base.render_as_string(hide_password=True)} is not "
                    f"reachable: {exc.orig}")
    url = base.set(drivername="postgresql").update_query_dict(
        {"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """A liveness guard, not a speed target: the body raises TimeoutError when it has
    not finished after `seconds` (SIGALRM; the main thread only)."""
    def fail(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
