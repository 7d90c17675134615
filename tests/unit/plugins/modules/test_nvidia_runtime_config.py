from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.modules import nvidia_runtime_config

V2 = (Path(__file__).resolve().parents[3] / "fixtures" / "containerd" / "config-v2-containerd-1.6.20.toml").read_text()


def run(capsys, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)), pytest.raises(SystemExit) as code:
        nvidia_runtime_config.main()
    return code.value.code, json.loads(capsys.readouterr().out)


def test_check_mode_writes_nothing_then_apply_then_no_change(capsys, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(V2)
    code, result = run(capsys, {"runtime": "containerd", "path": str(path)}, check_mode=True)
    assert code == 0 and result["changed"] is True and result["config_version"] == 2
    assert "runtimes.nvidia" in result["diff"]["after"] and path.read_text() == V2
    code, result = run(capsys, {"runtime": "containerd", "path": str(path), "backup": True})
    assert result["changed"] is True and Path(result["backup_file"]).read_text() == V2
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in path.read_text()
    code, result = run(capsys, {"runtime": "containerd", "path": str(path)})
    assert code == 0 and result["changed"] is False


def test_crio_drop_in_is_created(capsys, tmp_path):
    path = tmp_path / "crio.conf.d" / "99-nvidia.toml"
    code, result = run(capsys, {"runtime": "crio", "path": str(path), "set_as_default": True})
    assert code == 0 and result["changed"] and 'default_runtime = "nvidia"' in path.read_text()


def test_a_broken_file_is_left_alone(capsys, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("version = 2\n[plugins\n")
    code, result = run(capsys, {"runtime": "containerd", "path": str(path)})
    assert code == 1 and "is not valid TOML" in result["msg"] and path.read_text() == "version = 2\n[plugins\n"
