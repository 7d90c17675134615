"""Every role's Molecule scenario, run as a user of the role runs it: `molecule test` in the role."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from k8s_helpers import ROOT

pytestmark = pytest.mark.integration

SCENARIOS = sorted(p.parent.parent.parent.name for p in (ROOT / "roles").glob("*/molecule/*/molecule.yml"))
# Molecule's own test sequence, where a scenario does not give one
DEFAULT_SEQUENCE = ("dependency", "cleanup", "destroy", "syntax", "create", "prepare", "converge", "idempotence",
                    "side_effect", "verify", "cleanup", "destroy")
# Steps whose success the test reads from molecule's output: a scenario that lists one must show it ran and passed.
ASSERTED_STEPS = ("converge", "idempotence", "verify")


def asserted_steps(role):
    config = yaml.safe_load((ROOT / "roles" / role / "molecule" / "default" / "molecule.yml").read_text())
    sequence = (config.get("scenario") or {}).get("test_sequence") or DEFAULT_SEQUENCE
    return [step for step in ASSERTED_STEPS if step in sequence]


def step_succeeded(output, step, scenario="default"):
    # molecule 26 ends its output with one line per step run, such as "default > idempotence: Executed: Successful"
    return re.search(r"^.*\b%s\W+%s: Executed: Successful\s*$" % (re.escape(scenario), re.escape(step)), output, re.M) is not None


def test_every_role_has_a_scenario():
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    assert roles and SCENARIOS == roles


@pytest.mark.parametrize("role", SCENARIOS)
def test_molecule(kubeconfig, role):
    # Molecule keeps a scenario's inventory and state in ~/.ansible/tmp/molecule.<hash of the role
    # directory's name>.default unless told otherwise: the same directory for this role in every
    # checkout on the machine, so two checkouts' runs would rewrite each other's inventory. Each
    # checkout gets its own.
    ephemeral = ROOT / ".tmp" / "molecule" / role
    env = dict(os.environ, INFEROPS_KUBECONFIG=kubeconfig, ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
               PATH=os.pathsep.join([str(ROOT / ".venv" / "bin"), os.environ["PATH"]]))
    proc = subprocess.run(["molecule", "test"], cwd=ROOT / "roles" / role, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    steps = asserted_steps(role)
    assert "idempotence" in steps, "the %s scenario does not run molecule's idempotence step" % role
    missing = [step for step in steps if not step_succeeded(output, step)]
    assert not missing, "molecule did not report these steps as run and successful: %s\n%s" % (missing, output[-6000:])


def test_step_succeeded_reads_molecule_output():
    output = ("INFO     [default > idempotence] Executing\n"
              "default > converge: Executed: Successful\ndefault > idempotence: Executed: Failed\n")
    assert step_succeeded(output, "converge")
    assert not step_succeeded(output, "idempotence")
    assert not step_succeeded(output, "verify")
