"""Shared fixtures: generated inputs in a per-session cache; no recorder leaks."""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from conc_tui.telemetry.recorder import NULL_RECORDER, set_current_recorder


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated corpora go to a temporary cache, shared by the whole session."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["CONC_TUI_CACHE"] = str(cache)
    return cache


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_children() -> None:
    """Tests send Ctrl+C (SIGINT) to the processes they start. A shell starts a
    background job (``.ci/run &``) with SIGINT ignored, and an ignored signal stays
    ignored across exec: the children would shrug it off and those tests fail. With
    Python's own handler here, each child starts with the default again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _reset_recorder() -> Iterator[None]:
    """Tests set a recorder on the main thread; do not leak it into other tests."""
    yield
    set_current_recorder(NULL_RECORDER)


@pytest.fixture(autouse=True)
def _unfreeze_collector() -> Iterator[None]:
    """The app freezes its start-up objects out of the cyclic collector's reach, which
    is right for one app a process; a test session makes hundreds, so hand them back
    to the collector after each test."""
    yield
    gc.unfreeze()
