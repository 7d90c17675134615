"""Every role's Molecule scenario, run as a user of the role runs it: `molecule test` in the role."""

from __future__ import annotations

import os
import subprocess

import pytest

from k8s_helpers import ROOT

pytestmark = pytest.mark.integration

SCENARIOS = sorted(p.parent.parent.parent.name for p in (ROOT / "roles").glob("*/molecule/*/molecule.yml"))


def test_every_role_has_a_scenario():
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    assert roles and SCENARIOS == roles


@pytest.mark.parametrize("role", SCENARIOS)
def test_molecule(kubeconfig, role):
    env = dict(os.environ, INFEROPS_KUBECONFIG=kubeconfig, ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               PATH=os.pathsep.join([str(ROOT / ".venv" / "bin"), os.environ["PATH"]]))
    proc = subprocess.run(["molecule", "test"], cwd=ROOT / "roles" / role, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "verify: Executed: Successful" in proc.stdout + proc.stderr
