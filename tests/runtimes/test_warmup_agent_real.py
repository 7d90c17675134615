"""The warmup sidecar agent (plugins/module_utils/stack/warmup_agent.py) against real inference servers.

The agent runs as its own process, as in the pod; the server is started after it, killed and started again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import servers
from servers import IRIS_ROWS, LINEAR_ROW, http

AGENT = servers.ROOT / "plugins" / "module_utils" / "stack" / "warmup_agent.py"
COUNT = 5


def wait_for(predicate, what, timeout=120.0):
    """Poll until predicate() is truthy; the timeout only bounds a hung test, it asserts nothing about speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def warmup_request(server):
    if server.name == "kserve":
        return server.http + "/v1/models/iris:predict", {"instances": IRIS_ROWS}
    if server.name == "torchserve":
        return server.http + "/predictions/tiny", {"data": LINEAR_ROW}
    if server.name == "triton":
        return server.http + "/v2/models/linear/infer", {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                                                     "data": [LINEAR_ROW]}]}
    return server.http + "/v1/models/m:predict", {"instances": [[1.0, 2.0]]}


def start_agent(server, tmp_path):
    url, body = warmup_request(server)
    port = servers.free_port()
    config = {"listen_host": "127.0.0.1", "listen_port": port, "health_url": server.health_url, "count": COUNT,
              "poll_interval_s": 0.2, "request_timeout_s": 10.0,
              "request": {"method": "POST", "url": url, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}}
    path = Path(tmp_path) / "warmup.json"
    path.write_text(json.dumps(config))
    log = open(Path(tmp_path) / "agent.log", "wb")
    process = subprocess.Popen([sys.executable, str(AGENT), "--config", str(path)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = "http://127.0.0.1:%d" % port
    wait_for(lambda: http("GET", base + "/healthz", timeout=1)[0] == 200, "the agent to listen")
    return process, base


def ready(base):
    return http("GET", base + "/ready", timeout=2)


FACTORIES = {
    "kserve": servers.kserve_server,
    "torchserve": servers.torchserve_server,
    "triton": servers.triton_server,
    "tf_serving_standin": servers.tf_serving_standin,
}


@pytest.mark.parametrize("runtime", sorted(FACTORIES))
def test_ready_only_after_warming_and_again_after_a_restart(workdir, tmp_path, runtime):
    server = FACTORIES[runtime](workdir)
    process, base = start_agent(server, tmp_path)
    try:
        # The server is not running: the agent is not ready and has sent nothing.
        status, body = ready(base)
        assert status == 503 and body["state"] == "waiting_for_health" and body["sent"] == 0

        server.start()
        wait_for(lambda: ready(base)[0] == 200, "the agent to report ready")
        status, body = ready(base)
        assert body == {"ready": True, "state": "warm", "sent": COUNT, "failed": 0, "count": COUNT, "warmups_completed": 1}

        # The serving process dies (as when its container restarts): the pod must stop being Ready.
        server.kill()
        wait_for(lambda: ready(base)[0] == 503, "the agent to notice the dead server")
        assert ready(base)[1]["warmups_completed"] == 1

        # A new, cold process: ready again only after a second full warmup.
        server.start()
        wait_for(lambda: ready(base)[0] == 200, "the agent to re-warm")
        status, body = ready(base)
        assert body["warmups_completed"] == 2 and body["sent"] == COUNT
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.stop()
    assert process.returncode == 0  # SIGTERM is a clean shutdown
