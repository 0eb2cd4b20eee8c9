"""The history store: assessments recorded over time, trends, a portfolio (SQLite or PostgreSQL)."""

from __future__ import annotations

from .schema import SCHEMA_VERSION
from .store import (ChainCheck, Location, ProfileLevel, Recorded, Run, Store, default_path,
                    locate, open_store)

__all__ = ["SCHEMA_VERSION", "ChainCheck", "Location", "ProfileLevel", "Recorded", "Run",
           "Store", "default_path", "locate", "open_store"]
