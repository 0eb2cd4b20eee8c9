"""Renderings of the batch summary (ism3-batch/1): table, JSON and CSV. Registered explicitly."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from collections.abc import Callable

from tabulate import tabulate


def render_batch_table(summary: dict[str, Any]) -> str:
    """Organizations x profiles (achieved / max level; each profile headed with its source),
    then the failures with their error."""
    profiles = summary["profiles"]
    out: list[str] = []
    ok = [b for b in summary["bundles"] if b["status"] == "ok"]
    failed = [b for b in summary["bundles"] if b["status"] != "ok"]
    if ok:
        rows = [[b["path"], b["organization"]["id"], *(
            f"{b['levels'][p['id']]} / {p['max_level']}" for p in profiles)] for b in ok]
        out.append(tabulate(rows, headers=["bundle", "organization",
                                           *(f"{p['id']} ({p['source']})" for p in profiles)],
                            tablefmt="simple", disable_numparse=True))
        out.append("")
    if failed:
        out.append("Failed")
        out.append(tabulate([[b["path"], b["error"]] for b in failed],
                            headers=["bundle", "error"], tablefmt="simple",
                            disable_numparse=True))
        out.append("")
    totals = summary["totals"]
    out.append(f"{totals['bundles']} bundles: {totals['ok']} evaluated, {totals['failed']} failed")
    return "\n".join(out) + "\n"


def render_batch_json(summary: dict[str, Any]) -> str:
    """Indented JSON in the summary's own key order, with a final newline."""
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


def render_batch_csv(summary: dict[str, Any]) -> str:
    """One row per bundle: path, status, organization, one level column per profile, report,
    error, then one `<profile> source` column per profile (derived, standard or custom)."""
    ids = [p["id"] for p in summary["profiles"]]
    sources = [p["source"] for p in summary["profiles"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "status", "organization_id", "organization_name", *ids,
                     "report", "error", *(f"{i} source" for i in ids)])
    for b in summary["bundles"]:
        org = b["organization"] or {"id": "", "name": ""}
        writer.writerow([b["path"], b["status"], org["id"], org["name"],
                         *(b["levels"].get(i, "") for i in ids), b["report"] or "",
                         b["error"] or "", *sources])
    return buffer.getvalue()


BATCH_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_batch_table,
    "json": render_batch_json,
    "csv": render_batch_csv,
}
