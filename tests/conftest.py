"""Shared fixtures: keep generated inputs in a per-session cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated corpora go to a temporary cache, shared by the whole session."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["CONC_TUI_CACHE"] = str(cache)
    return cache
