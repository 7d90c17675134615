"""The gpu_node_labels module as Ansible runs it, against a stand-in for the API: what its result carries back."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import runner
from ansible_collections.inferops.kubernetes.plugins.modules import gpu_node_labels

FACTS = json.loads((Path(__file__).resolve().parents[3] / "fixtures/nvml/h200-gpu-facts.json").read_text())
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SECRET = "s3cret-bearer-token-for-the-test"


class Nodes:
    """Bare nodes named n0..n{count-1}; counts the writes."""

    def __init__(self, count):
        self.nodes = [{"metadata": {"name": "n%d" % i, "resourceVersion": "1", "labels": {}}, "spec": {}} for i in range(count)]
        self.writes = 0

    def list(self, api_version, kind):
        return copy.deepcopy(self.nodes)

    def patch(self, api_version, kind, name, body, namespace=None, content_type=None, field_manager=None, dry_run=False):
        self.writes += 1


def run(capsys, monkeypatch, client, args):
    monkeypatch.setattr(runner, "connect", lambda params, warn=None: client)
    with patch_module_args(args), pytest.raises(SystemExit) as code:
        gpu_node_labels.main()
    out = capsys.readouterr().out
    return code.value.code, json.loads(out), out


def test_result_echoes_a_summary_of_gpu_facts_not_the_facts(capsys, monkeypatch):
    client = Nodes(20)
    nodes = [{"name": "n%d" % i, "gpu_facts": FACTS, "taints": [TAINT]} for i in range(20)]
    rc, result, out = run(capsys, monkeypatch, client, {"nodes": nodes, "api_key": SECRET})
    assert rc == 0 and result["api_writes"] == 20 == client.writes
    echoed = result["invocation"]["module_args"]["nodes"]
    assert [n["name"] for n in echoed] == ["n%d" % i for i in range(20)]
    assert echoed[0]["gpu_facts"] == {"gpu_present": True, "gpu_count": 1, "products": ["NVIDIA H200"]}
    assert echoed[0]["taints"] == [TAINT] and echoed[0]["mig_strategy"] == "none"
    # the facts themselves (here a GPU UUID) are not sent back; the result stays small as the fleet grows
    assert FACTS["gpus"][0]["uuid"] not in out
    assert len(json.dumps(result["invocation"])) < 20 * 250
    # no_log still holds over the whole result; gpu_facts is not no_log, so its values are not scrubbed elsewhere
    assert SECRET not in out and result["invocation"]["module_args"]["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "NVIDIA-H200" in json.dumps(result["nodes"][0]["labels_after"])


def test_a_failure_echoes_the_summary_too(capsys, monkeypatch):
    nodes = [{"name": "n0", "gpu_facts": FACTS}, {"name": "n-missing", "gpu_facts": FACTS}]
    rc, result, out = run(capsys, monkeypatch, Nodes(1), {"nodes": nodes, "api_key": SECRET})
    assert rc == 1 and "nodes[1].name: n-missing" in result["msg"]
    assert result["invocation"]["module_args"]["nodes"][1]["gpu_facts"]["products"] == ["NVIDIA H200"]
    assert FACTS["gpus"][0]["uuid"] not in out and SECRET not in out
