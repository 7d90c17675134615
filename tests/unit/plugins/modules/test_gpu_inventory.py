from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.modules import gpu_inventory


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        gpu_inventory.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_missing_kubeconfig_fails_before_any_request(capsys, tmp_path):
    code, result = run_module(capsys, {"kubeconfig": str(tmp_path / "missing.yaml")})
    assert code == 1
    assert result["failed"] is True
    assert "missing.yaml does not exist" in result["msg"]
    assert result["error"] == "K8sConfigError"


def test_env_fallback_is_used(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(tmp_path / "from-env.yaml"))
    code, result = run_module(capsys, {})
    assert code == 1 and "from-env.yaml does not exist" in result["msg"]


def test_api_key_never_echoed(capsys, tmp_path):
    code, result = run_module(capsys, {"host": "https://127.0.0.1:1", "api_key": "tok-SECRET-123", "validate_certs": False})
    assert code == 1
    assert "unreachable" in result["msg"]
    assert "tok-SECRET-123" not in json.dumps(result)
