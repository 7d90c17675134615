"""The control-plane scripts' answers to a machine without Go, and the fleet renderer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def path_without_go():
    keep = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "go").exists()]
    path = os.pathsep.join(keep)
    assert shutil.which("go", path=path) is None
    return path


def run(cmd, **env):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, **env))


def test_build_without_go_says_what_to_install():
    proc = run(["bash", "tests/cluster/build.sh"], PATH=path_without_go())
    assert proc.returncode == 3
    assert "Go toolchain (go >= 1.26.0) is not on PATH" in proc.stderr
    assert "INFEROPS_KUBECONFIG=" in proc.stderr


def test_test_command_without_go_or_cluster_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "INFEROPS_KUBECONFIG"}
    env["PATH"] = path_without_go()
    proc = subprocess.run(["bash", "tests/run.sh"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert proc.returncode == 3
    assert "install Go 1.26 or newer" in proc.stderr
    assert "INFEROPS_KUBECONFIG=$HOME/.kube/config make test" in proc.stderr


def test_test_command_rejects_a_missing_kubeconfig(tmp_path):
    proc = run(["bash", "tests/run.sh"], INFEROPS_KUBECONFIG=str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_fleet_render_and_count_override():
    proc = run([sys.executable, "tests/cluster/fleet.py", "render", "--count", "gpu-h100=3"])
    assert proc.returncode == 0, proc.stderr
    nodes = list(yaml.safe_load_all(proc.stdout))
    names = [n["metadata"]["name"] for n in nodes]
    assert [n for n in names if n.startswith("gpu-h100-")] == ["gpu-h100-0", "gpu-h100-1", "gpu-h100-2"]
    for node in nodes:
        assert all(isinstance(v, str) for v in node["metadata"]["labels"].values())
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    bad = run([sys.executable, "tests/cluster/fleet.py", "render", "--count", "gpu-h100=many"])
    assert bad.returncode != 0 and "GROUP=N" in bad.stderr
    unknown = run([sys.executable, "tests/cluster/fleet.py", "render", "--count", "gpu-b200=1"])
    assert unknown.returncode != 0 and "unknown groups: gpu-b200" in unknown.stderr
