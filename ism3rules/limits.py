"""Bounds on what reading one untrusted evidence bundle may cost (see SECURITY.md).

Every limit has a default that no honest bundle comes near, and a CLI flag to change
it; a bundle that exceeds one is an input error that names the limit and the flag.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on one bundle read; pass one to `load_bundle` (default: DEFAULT_LIMITS).

    - max_bytes: size of a YAML document (bundle.yaml), before parsing it.
    - max_depth: nesting of mappings and lists in a YAML document, aliases followed.
    - max_aliases: alias references (`*name`) in a YAML document.
    - max_alias_expansion: nodes that aliases add when expanded (alias bombs).
    - max_csv_bytes: total size of the observation files one bundle reads (each
      distinct file counted once); they are streamed row by row, never read whole.
    """

    max_bytes: int = 16 * MIB
    max_depth: int = 64
    max_aliases: int = 100
    max_alias_expansion: int = 100_000
    max_csv_bytes: int = 32 * MIB

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_aliases", "max_alias_expansion",
                     "max_csv_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"limit {name} must not be negative")


DEFAULT_LIMITS = Limits()

# The command-line flag that sets each limit, for messages that say what to do.
FLAGS = {
    "max_bytes": "--max-bundle-bytes",
    "max_depth": "--max-yaml-depth",
    "max_aliases": "--max-yaml-aliases",
    "max_alias_expansion": "--max-yaml-alias-expansion",
    "max_csv_bytes": "--max-csv-bytes",
}
