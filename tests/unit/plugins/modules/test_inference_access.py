"""The inference_access module: options reach the spec, bad input fails before any connection, render mode."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import deploy
from ansible_collections.inferops.kubernetes.plugins.modules import inference_access

BERT = {"name": "bert", "namespace": "serving", "runtime": "triton", "rbac": {"presets": ["read_pods_and_services"]}}


def run(capsys, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)), pytest.raises(SystemExit) as code:
        inference_access.main()
    return code.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"rbac": {"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["*"]}]}}, "rbac.rules[0].verbs[0]: '*' is a wildcard"),
    ({"rbac": {"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["read"]}]}}, "rbac.rules[0].verbs[0]: 'read' is not a verb"),
    ({"rbac": {"rules": [{}]}}, "rbac.rules[0]: an empty rule grants nothing"),
    ({"network_policy": {"egress": [{"cidr": "10.0.0.0/33"}]}}, "network_policy.egress[0].cidr: '10.0.0.0/33' is not a CIDR"),
    ({"network_policy": {"egress": [{"cidr": "10.0.0.0/8", "ports": [70000]}]}}, "network_policy.egress[0].ports[0]: 70000 is not a port"),
    ({"namespace": "Serving"}, "namespace: 'Serving' is not a DNS-1123 label"),
])
def test_bad_input_fails_before_any_connection(capsys, tmp_path, args, message):
    # The kubeconfig does not exist: a failure naming the option proves validation ran before the client.
    code, result = run(capsys, dict(BERT, kubeconfig=str(tmp_path / "missing"), **args))
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]


def test_unknown_preset_is_refused_by_its_choices(capsys, tmp_path):
    code, result = run(capsys, dict(BERT, rbac={"presets": ["cluster_admin"]}, kubeconfig=str(tmp_path / "missing")))
    assert code == 1 and "read_pods_and_services" in result["msg"]


def test_render_mode_needs_no_cluster_and_check_mode_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    code, result = run(capsys, dict(BERT, mode="render", render_dir=str(out)), check_mode=True)
    assert code == 0 and result["changed"] is True and not out.exists()
    code, result = run(capsys, dict(BERT, mode="render", render_dir=str(out)))
    assert code == 0 and result["changed"] is True
    written = [yaml.safe_load(open(path, encoding="utf-8")) for path in result["rendered_files"]]
    assert written == deploy.plan(BERT)[1]
    assert [o["kind"] for o in written] == ["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]
    code, result = run(capsys, dict(BERT, mode="render", render_dir=str(out)))
    assert code == 0 and result["changed"] is False


def test_absent_has_nothing_to_render(capsys, tmp_path):
    code, result = run(capsys, dict(BERT, mode="render", render_dir=str(tmp_path), state="absent"))
    assert code == 1 and result["msg"].startswith("state: absent has nothing to render")
