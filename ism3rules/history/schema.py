"""The history store's tables at the current schema version (SQLAlchemy Core).

`migrations.py` builds these tables step by step; a test checks that a store
migrated from version 1 has exactly the tables and columns defined here. Every
table name starts with `ism3_`, so the store can share a database with others.
Rows of the run tables are never updated or deleted (triggers refuse it); only
`ism3_heads`, the last run of each organization's chain, moves forward.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 2
"""The schema this version of ism3rules reads and writes; part of the public contract."""

metadata = sa.MetaData()

schema_version = sa.Table(
    "ism3_schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Text, nullable=False),       # UTC, ISO 8601
    sa.Column("tool_version", sa.Text, nullable=False),
)

runs = sa.Table(
    "ism3_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("organization_id", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),           # 1, 2, ... within the organization
    sa.Column("organization_name", sa.Text, nullable=False),
    sa.Column("as_of", sa.Text, nullable=True),             # assessment.as_of, else period end
    sa.Column("period_start", sa.Text, nullable=True),
    sa.Column("period_end", sa.Text, nullable=True),
    sa.Column("tool_version", sa.Text, nullable=False),
    sa.Column("rules_sha256", sa.Text, nullable=False),
    sa.Column("bundle_sha256", sa.Text, nullable=False),
    sa.Column("report_sha256", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),           # evaluate|batch|record|backfill
    sa.Column("recorded_at", sa.Text, nullable=False),      # UTC, ISO 8601
    sa.Column("previous_hash", sa.Text, nullable=True),     # chain_hash of run seq-1
    sa.Column("chain_hash", sa.Text, nullable=False),
    sa.UniqueConstraint("report_sha256", name="ism3_runs_report_sha256"),
    sa.UniqueConstraint("organization_id", "seq", name="ism3_runs_org_seq"),
    sa.Index("ism3_runs_org_as_of", "organization_id", "as_of", "id"),
)

run_reports = sa.Table(
    "ism3_run_reports", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("encoding", sa.Text, nullable=False),         # "zlib": of the canonical JSON
    sa.Column("body", sa.LargeBinary, nullable=False),
)

run_processes = sa.Table(
    "ism3_run_processes", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("process_id", sa.Text, primary_key=True),
    sa.Column("capability", sa.Text, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
)

run_profiles = sa.Table(
    "ism3_run_profiles", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("profile_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),      # order in the report
    sa.Column("profile_name", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("profile_sha256", sa.Text, nullable=True),
    sa.Column("achieved_level", sa.Integer, nullable=False),
    sa.Column("max_level", sa.Integer, nullable=False),
)

run_findings = sa.Table(
    "ism3_run_findings", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("finding_id", sa.Text, nullable=True),        # the stable id, when the report has it
    sa.Column("finding_key", sa.Text, nullable=False),      # rule|process|message
    sa.Column("rule", sa.Text, nullable=True),
    sa.Column("kind", sa.Text, nullable=True),              # the report's `finding`
    sa.Column("process_id", sa.Text, nullable=True),
    sa.Column("severity", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
)

run_gaps = sa.Table(                                          # since schema version 2
    "ism3_run_gaps", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("profile_id", sa.Text, primary_key=True),
    sa.Column("process_id", sa.Text, primary_key=True),
    sa.Column("required", sa.Text, primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),         # the first level asking for it
    sa.Column("actual", sa.Text, nullable=True),
)

heads = sa.Table(
    "ism3_heads", metadata,
    sa.Column("organization_id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("chain_hash", sa.Text, nullable=False),
)

APPEND_ONLY = ("ism3_runs", "ism3_run_reports", "ism3_run_processes", "ism3_run_profiles",
               "ism3_run_findings", "ism3_run_gaps")
"""Tables whose rows are never updated or deleted."""
