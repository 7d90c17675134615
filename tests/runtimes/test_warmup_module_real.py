"""The warmup module (plugins/modules/warmup.py) against the real servers, one protocol preset each."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

import servers
from servers import IRIS_ROWS, LINEAR_ROW, http
from ansible_collections.inferops.kubernetes.plugins.modules import warmup

V2_LINEAR = [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [LINEAR_ROW]}]
CASES = {
    "kserve_v1": (servers.kserve_server, {"protocol": "kserve_v1", "model": "iris", "payload": IRIS_ROWS}),
    "kserve_v2": (servers.kserve_server, {"protocol": "v2", "model": "iris",
                                          "payload": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": IRIS_ROWS}]}),
    "triton": (servers.triton_server, {"protocol": "triton", "model": "linear", "model_version": "1", "payload": V2_LINEAR}),
    "torchserve": (servers.torchserve_server, {"protocol": "torchserve", "model": "tiny", "payload": {"data": LINEAR_ROW}}),
    "tf_serving_standin": (servers.tf_serving_standin, {"protocol": "tf_serving", "model": "m", "payload": [[1.0, 2.0]]}),
}


def run(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as code:
        warmup.main()
    return code.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_warmup_module_preset(workdir, capsys, case):
    factory, args = CASES[case]
    with servers.running(factory(workdir)) as server:
        code, result = run(capsys, dict(args, url=server.http, settle_count=3, max_requests=40))
        assert code == 0, result.get("msg")
        assert result["errors"] == 0 and result["changed"] is False
        assert result["requests_sent"] == len(result["latencies_ms"]) >= 4
        assert result["cold_latency_ms"] == result["latencies_ms"][0] > 0
        assert result["settled"] == (result["reason"] is None)
        if result["settled"]:
            assert result["warm_latency_ms"]["window"] == 3
        if case == "triton":
            # Triton's own statistics: the 10 native model_warmup executions plus every request the module sent
            stats = http("GET", server.http + "/v2/models/linear/stats")[1]["model_stats"][0]
            assert stats["inference_count"] == 10 + result["requests_sent"]


def test_wrong_model_fails_with_the_servers_answer(workdir, capsys):
    with servers.running(servers.torchserve_server(workdir)) as server:
        code, result = run(capsys, {"url": server.http, "protocol": "torchserve", "model": "nope", "payload": {"data": LINEAR_ROW},
                                    "max_errors": 0})
    assert code == 1 and result["msg"].startswith("no warmup request succeeded: HTTP 404")
