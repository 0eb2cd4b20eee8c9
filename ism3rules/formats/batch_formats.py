"""Renderings of the batch summary (ism3-batch/1): table, JSON and CSV. Registered explicitly.

Paths, organization ids and names and error messages come from the bundles (and the
file system): they go through the output-neutralising layer (`ism3rules.safe`), as
in every other format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from .fit import fit_table

from .. import safe


def _lines(text: Any) -> str:
    """A multi-line message (one problem per line) with each line made inert."""
    return "\n".join(safe.terminal(part) for part in str(text or "").split("\n"))


def render_batch_table(summary: dict[str, Any], width: int | None = None) -> str:
    """Organizations x profiles (achieved / max level; each profile headed with its source),
    then the failures with their error, fitted to `width` columns (default:
    fit.STABLE_WIDTH)."""
    summary = safe.neutral(summary, keep=("error",))
    profiles = summary["profiles"]
    out: list[str] = []
    ok = [b for b in summary["bundles"] if b["status"] == "ok"]
    failed = [b for b in summary["bundles"] if b["status"] == "error"]
    if ok:
        rows = [[b["path"], b["organization"]["id"], *(
            f"{b['levels'][p['id']]} / {p['max_level']}" for p in profiles)] for b in ok]
        out.append(fit_table(rows, ["bundle", "organization",
                                    *(f"{p['id']} ({p['source']})" for p in profiles)], width))
        out.append("")
    if failed:
        out.append("Failed")
        out.append(fit_table([[b["path"], _lines(b["error"])] for b in failed], ["bundle", "error"],
                             width, text_columns=[1], multiline=[1]))
        out.append("")
    totals = summary["totals"]
    line = f"{totals['bundles']} bundles: {totals['ok']} evaluated, {totals['failed']} failed"
    shard = summary.get("shard")
    if shard:
        line += f" (shard {shard['index']}/{shard['count']} of {shard['batch_bundles']} bundles)"
    if not summary.get("complete", True):
        line += (f", {totals['not_evaluated']} not evaluated: INCOMPLETE, the batch was "
                 "interrupted")
    out.append(line)
    return "\n".join(out) + "\n"


def render_batch_json(summary: dict[str, Any]) -> str:
    """Indented JSON in the summary's own key order, with a final newline."""
    return safe.json_dumps(summary)


def render_batch_csv(summary: dict[str, Any]) -> str:
    """One row per bundle: path, status, organization, one level column per profile, report,
    error, then one `<profile> source` column per profile (derived, standard or custom).

    An interrupted batch shows in its rows: the bundles left have status `not_evaluated`.
    """
    ids = [p["id"] for p in summary["profiles"]]
    sources = [p["source"] for p in summary["profiles"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe.csv_cell(h) for h in ["path", "status", "organization_id",
                                                 "organization_name", *ids, "report", "error",
                                                 *(f"{i} source" for i in ids)]])
    for b in summary["bundles"]:
        org = b["organization"] or {"id": "", "name": ""}
        writer.writerow([safe.csv_cell(b["path"]), safe.csv_cell(b["status"]),
                         safe.csv_cell(org["id"]), safe.csv_cell(org["name"]),
                         *(b["levels"].get(i, "") for i in ids), safe.csv_cell(b["report"] or ""),
                         safe.csv_cell(b["error"] or ""), *(safe.csv_cell(s) for s in sources)])
    return buffer.getvalue()


BATCH_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_batch_table,
    "json": render_batch_json,
    "csv": render_batch_csv,
}
