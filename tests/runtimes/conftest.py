"""Real inference servers on CPU (tests/runtimes/servers.py); marker ``runtimes``.

They need the runtimes venv and Java (tests/runtimes/setup.sh, run by tests/run.sh and `make runtimes-venv`);
without them every test here is skipped with that reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import servers  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    config.addinivalue_line("markers", "runtimes: starts real inference servers on CPU (needs tests/runtimes/setup.sh)")


def pytest_collection_modifyitems(config, items):
    reason = servers.venv_ready()
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.runtimes)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """One directory per session with the tiny models made once; each server adds its log here."""
    path = tmp_path_factory.mktemp("runtimes")
    servers.make_models(path)
    return path
