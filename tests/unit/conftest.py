"""Unit tests keep API discovery out of the user's cache: every test gets a discovery cache directory of its own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_discovery_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INFEROPS_DISCOVERY_CACHE_DIR", str(tmp_path / "discovery-cache"))
