"""Playbooks through ansible-playbook against the cluster: the main job and the module's own play."""

from __future__ import annotations

import os
import subprocess

import pytest

from k8s_helpers import ROOT

pytestmark = pytest.mark.integration


def ansible_playbook(playbook, kubeconfig, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), INFEROPS_KUBECONFIG=kubeconfig,
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_module_play(kubeconfig):
    proc = ansible_playbook(ROOT / "tests/integration/playbooks/gpu_inventory.yml", kubeconfig, "-e", "test_kubeconfig=" + kubeconfig)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout and "ignored=1" in proc.stdout


def test_main_job_runs_and_says_what_it_runs(kubeconfig):
    proc = ansible_playbook(ROOT / "playbooks/site.yml", kubeconfig, "-i", str(ROOT / "inventories/local/hosts.yml"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "not in this version yet" in proc.stdout
    assert "NVIDIA-H100-80GB-HBM3: 2 node(s)" in proc.stdout
