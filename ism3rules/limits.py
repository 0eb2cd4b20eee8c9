"""Bounds on what reading one untrusted evidence bundle (or another input file) may cost (see SECURITY.md).

Every limit is counted in bytes or items, has a default that no honest bundle comes
near, and a CLI flag to change it; an input that exceeds one is an input error that
names the limit and the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MIB = 1024 * 1024
GIB = 1024 * MIB

# Observation values, thresholds and targets are bounded in magnitude (fixed, not a
# cost): with |v| <= 1e15 every sum, mean, deviation and distance the statistics take
# over the most observations a bundle may hold stays finite, and integers keep every
# digit (2**53 > 9e15).
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True)
class Limits:
    """Bounds on one bundle read; pass one to `load_bundle` (default: DEFAULT_LIMITS).

    - max_bytes: size of a YAML document (bundle.yaml), before parsing it.
    - max_nodes: nodes (scalars, lists, mappings) of a YAML document, counted while it
      is parsed: parsing costs per node, far more than per byte.
    - max_depth: nesting of mappings and lists in a YAML document, aliases followed.
    - max_aliases: alias references (`*name`) in a YAML document.
    - max_alias_expansion: nodes that aliases add when expanded (alias bombs).
    - max_alias_bytes: bytes of text (scalars) that aliases add when expanded.
    - max_items: evidence items and service levels of one bundle.
    - max_csv_bytes: total size of the observation files of one bundle, counted once
      per item naming a file (each item's observations are analysed on their own;
      the file itself is read and parsed once), refused from the sizes before reading.
    - max_observations: observations analysed, counted once per metric item that
      holds them and once per service level whose window covers them (plus one per
      item a service level covers).
    - max_document_bytes: size of one documentation file (it is read to hash it).
    - max_documents_bytes: total size of the documentation files of one bundle, each
      distinct file counted once.
    - max_facts: facts handed to the rules engine for one evaluation (every
      observation outside its band is one).
    - max_report_bytes: size of a JSON report given back to the tool (`verify`).
    - max_report_depth: nesting of lists and objects in such a report.
    - max_review_bytes: size of an auditor's review file (`--review`).
    - max_template_bytes: size of an HTML template (`--template`), the files it
      includes from its folder counted with it.
    - max_signature_bytes: size of a signature envelope (`verify --signature`).
    - max_archive_bytes: bytes a bundle archive (.zip, .tar.gz) may unpack to, in total
      (and the size of the archive file itself); checked from its headers first, then
      again while it is inflated.
    - max_archive_entries: entries (files and folders) of a bundle archive.
    - max_archive_ratio: unpacked bytes per compressed byte, of a member and of the
      whole archive (ignored below 1 MiB unpacked).
    - max_archive_path: characters of one entry's name in a bundle archive.
    """

    max_bytes: int = 16 * MIB
    max_nodes: int = 250_000
    max_depth: int = 64
    max_aliases: int = 100
    max_alias_expansion: int = 100_000
    max_alias_bytes: int = 4 * MIB
    max_items: int = 10_000
    max_csv_bytes: int = 32 * MIB
    max_observations: int = 2_000_000
    max_document_bytes: int = 256 * MIB
    max_documents_bytes: int = 2 * GIB
    max_facts: int = 20_000
    max_report_bytes: int = 64 * MIB
    max_report_depth: int = 32
    max_review_bytes: int = 16 * MIB
    max_template_bytes: int = 1 * MIB
    max_signature_bytes: int = 16 * MIB
    # room for the documents (2 GiB), the observation files and the manifest
    max_archive_bytes: int = 2 * GIB + 256 * MIB
    max_archive_entries: int = 50_000
    max_archive_ratio: int = 100
    max_archive_path: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"limit {f.name} must not be negative")


DEFAULT_LIMITS = Limits()

# The command-line flag that sets each limit, for messages that say what to do.
FLAGS = {
    "max_bytes": "--max-bundle-bytes",
    "max_nodes": "--max-yaml-nodes",
    "max_depth": "--max-yaml-depth",
    "max_aliases": "--max-yaml-aliases",
    "max_alias_expansion": "--max-yaml-alias-expansion",
    "max_alias_bytes": "--max-yaml-alias-bytes",
    "max_items": "--max-items",
    "max_csv_bytes": "--max-csv-bytes",
    "max_observations": "--max-observations",
    "max_document_bytes": "--max-document-bytes",
    "max_documents_bytes": "--max-documents-bytes",
    "max_facts": "--max-facts",
    "max_report_bytes": "--max-report-bytes",
    "max_report_depth": "--max-report-depth",
    "max_review_bytes": "--max-review-bytes",
    "max_template_bytes": "--max-template-bytes",
    "max_signature_bytes": "--max-signature-bytes",
    "max_archive_bytes": "--max-archive-bytes",
    "max_archive_entries": "--max-archive-entries",
    "max_archive_ratio": "--max-archive-ratio",
    "max_archive_path": "--max-archive-path",
}


def over(limit: str, limits: Limits, what: str) -> str:
    """`what`, then the limit's value and the flag that changes it, for a message."""
    return f"{what} (limit {getattr(limits, limit)}; {FLAGS[limit]} changes it for a trusted input)"
