"""The warmup agent's configuration checks and state machine (its HTTP calls replaced by a scripted server).

tests/runtimes/test_warmup_agent_real.py runs the same agent against real inference servers."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import warmup_agent as agent_mod
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.warmup_agent import (
    ConfigError, WarmupAgent, load_config, validate_config,
)

GOOD = {
    "listen_port": 8099,
    "health_url": "http://127.0.0.1:8501/v1/models/m",
    "count": 3,
    "poll_interval_s": 1.0,
    "request_timeout_s": 10.0,
    "request": {"method": "POST", "url": "http://127.0.0.1:8501/v1/models/m:predict",
                "headers": {"Content-Type": "application/json"}, "body": '{"instances": [[1.0]]}'},
}


def with_change(path, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def test_the_documented_example_is_valid_and_defaults_fill_in():
    config = validate_config({"health_url": GOOD["health_url"], "request": {"url": GOOD["request"]["url"]}})
    assert config["listen_port"] == 8099 and config["count"] == 10 and config["poll_interval_s"] == 1.0
    assert config["listen_host"] == "0.0.0.0"
    assert config["request"] == {"method": "POST", "url": GOOD["request"]["url"], "headers": {}, "body": ""}
    assert validate_config(GOOD)["request"]["body"] == GOOD["request"]["body"]


@pytest.mark.parametrize("path,value,message", [
    (("listen_port",), 0, "listen_port must be a whole number from 1 to 65535"),
    (("listen_port",), "8099", "listen_port must be a whole number"),
    (("listen_port",), True, "listen_port must be a whole number"),
    (("count",), 0, "count must be a whole number from 1"),
    (("count",), 2.5, "count must be a whole number"),
    (("poll_interval_s",), 0, "poll_interval_s must be a number of seconds above 0"),
    (("request_timeout_s",), -1, "request_timeout_s must be a number of seconds above 0"),
    (("health_url",), KeyError, "health_url is required"),
    (("health_url",), "127.0.0.1:8501/v1/models/m", "health_url must be an http:// or https:// URL"),
    (("health_url",), "ftp://host/x", "health_url must be an http:// or https:// URL"),
    (("request",), KeyError, "request is required"),
    (("request", "url"), KeyError, "request.url must be a non-empty string"),
    (("request", "method"), "DELETE", "request.method must be one of GET, POST, PUT"),
    (("request", "headers"), {"X-Count": 1}, "request.headers must be an object of string names to string values"),
    (("request", "body"), {"instances": [[1.0]]}, "request.body must be a string"),
    (("request", "method"), "GET", "request.body is set but request.method is GET"),
    (("request", "timeout"), 3, "unknown key(s) in request: timeout"),
    (("warmup_count",), 3, "unknown key(s) warmup_count"),
])
def test_bad_configuration_names_the_field(path, value, message):
    with pytest.raises(ConfigError) as error:
        validate_config(with_change(path, value))
    assert message in str(error.value)


def test_load_config_reports_unreadable_json(tmp_path):
    path = tmp_path / "warmup.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(path))
    path.write_text(json.dumps(GOOD))
    assert load_config(str(path))["count"] == 3


def test_main_exits_2_on_a_bad_configuration(tmp_path, capsys):
    path = tmp_path / "warmup.json"
    path.write_text(json.dumps(with_change(("count",), 0)))
    assert agent_mod.main(["--config", str(path)]) == 2
    assert "invalid configuration: count must be" in capsys.readouterr().err


class ScriptedServer:
    """Answers the agent's calls: health is up or down; predictions answer `predict_status`."""

    def __init__(self):
        self.up = False
        self.predict_status = 200
        self.predictions = 0
        self.bodies = []

    def call(self, url, timeout, method="GET", headers=None, body=None):
        if not self.up:
            return None
        if url == GOOD["health_url"]:
            return 200
        self.predictions += 1
        self.bodies.append((method, headers, body))
        return self.predict_status


def make_agent(server):
    return WarmupAgent(validate_config(GOOD), call=server.call, sleep=lambda seconds: None, log=lambda line: None)


def test_not_ready_until_count_successful_requests_then_cold_again_after_a_restart():
    server = ScriptedServer()
    agent = make_agent(server)
    for attempt in range(5):
        agent.step()
    assert agent.status()["ready"] is False and server.predictions == 0

    server.up = True
    agent.step()  # health answers
    for expected in range(1, 4):
        assert agent.status()["ready"] is False
        agent.step()
        assert server.predictions == expected
    assert agent.status() == {"ready": True, "state": "warm", "sent": 3, "failed": 0, "count": 3, "warmups_completed": 1}
    assert server.bodies[0] == ("POST", {"Content-Type": "application/json"}, b'{"instances": [[1.0]]}')

    server.up = False  # the serving container restarted
    agent.step()
    assert agent.status()["ready"] is False and agent.status()["sent"] == 0
    server.up = True
    agent.step()
    agent.step()
    assert agent.status()["ready"] is False
    agent.step()
    agent.step()
    assert agent.status()["ready"] is True and agent.status()["warmups_completed"] == 2 and server.predictions == 6


def test_failed_warmup_requests_do_not_count():
    server = ScriptedServer()
    server.up = True
    server.predict_status = 400
    agent = make_agent(server)
    for attempt in range(10):
        agent.step()
    status = agent.status()
    assert status["ready"] is False and status["sent"] == 0 and status["failed"] == 9
    server.predict_status = 200
    for attempt in range(3):
        agent.step()
    assert agent.status()["ready"] is True


def test_the_source_text_imports_only_the_standard_library():
    """The builder ships inspect.getsource(warmup_agent) to a plain python image: no other imports may appear."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(agent_mod))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    assert names and names <= set(sys.stdlib_module_names)
