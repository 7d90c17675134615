"""The runtime registry: every runtime carries the facts the builders read, paths come from
inference/protocols.py, nothing outside stack/runtimes/ branches on a runtime's name, and a new
runtime is one Runtime object: registering one is enough to build its stack."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy, runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import valid_image

STACK = Path(runtimes.__file__).resolve().parents[1]
ALL = sorted(runtimes.RUNTIMES.values(), key=lambda r: r.name)


def test_the_registry_lists_the_five_runtimes_in_message_order():
    assert list(runtimes.RUNTIMES) == ["tensorflow_serving", "torchserve", "triton", "onnxruntime", "kserve"]
    assert all(runtimes.get(name).name == name for name in runtimes.RUNTIMES)


@pytest.mark.parametrize("runtime", ALL, ids=lambda r: r.name)
def test_every_runtime_has_the_facts_the_builders_read(runtime):
    assert isinstance(runtime, Runtime)
    assert "http" in runtime.ports and "grpc" in runtime.ports
    assert all(isinstance(port, int) and 0 < port < 65536 for port in runtime.ports.values())
    assert len(set(runtime.ports.values())) == len(runtime.ports)
    assert runtime.model_root.startswith("/")
    assert runtime.warmup in ("native", "sidecar")
    assert runtime.versions in (None, "policy", "mounted")
    if runtime.native_warmup:
        assert runtime.data_types, "native warmup describes its sample by Triton data types"
    if "backend" in runtime.model_options:
        assert runtime.backends and (runtime.fixed_backend is None or runtime.fixed_backend in runtime.backends)
    if runtime.metrics is not None:
        port, path = runtime.metrics
        assert port in runtime.ports and port in runtime.service_ports and path.startswith("/")
    for protocol in ("v1", "v2"):
        for path in (runtime.health_path("m", protocol), runtime.liveness_path("m", protocol), runtime.predict_path("m", protocol)):
            assert path.startswith("/"), path
    if not runtime.kserve_options:
        for gpu in (None, {"count": 1}):
            valid_image("image", runtime.default_image(gpu, {}, {"runtime": None}), runtime.image_example({}))


@pytest.mark.parametrize("name, metrics, port", [
    # TF Serving serves /monitoring/prometheus/metrics only with --monitoring_config_file, which the module does not set.
    ("tensorflow_serving", None, None),
    ("triton", ("metrics", "/metrics"), 8002),
    ("onnxruntime", ("metrics", "/metrics"), 8002),
    ("torchserve", ("metrics", "/metrics"), 8082),
    ("kserve", ("http", "/metrics"), 8080),
])
def test_metrics_endpoints(name, metrics, port):
    runtime = runtimes.get(name)
    assert runtime.metrics == metrics
    assert (runtime.ports[metrics[0]] if metrics else None) == port


@pytest.mark.parametrize("name, protocol, health, live, predict", [
    ("tensorflow_serving", "v1", protocols.v1_model_path("m"), protocols.v1_model_path("m"), protocols.v1_predict_path("m")),
    ("torchserve", "v1", protocols.TORCHSERVE_PING, protocols.TORCHSERVE_PING, protocols.torchserve_predict_path("m")),
    ("triton", "v1", protocols.V2_HEALTH_READY, protocols.V2_HEALTH_LIVE, protocols.v2_infer_path("m")),
    ("onnxruntime", "v1", protocols.V2_HEALTH_READY, protocols.V2_HEALTH_LIVE, protocols.v2_infer_path("m")),
    ("kserve", "v1", protocols.v1_model_path("m"), protocols.KSERVE_V1_LIVE, protocols.v1_predict_path("m")),
    ("kserve", "v2", protocols.v2_model_ready_path("m"), protocols.V2_HEALTH_LIVE, protocols.v2_infer_path("m")),
])
def test_paths_are_the_protocols_paths(name, protocol, health, live, predict):
    runtime = runtimes.get(name)
    assert (runtime.health_path("m", protocol), runtime.liveness_path("m", protocol), runtime.predict_path("m", protocol)) == (
        health, live, predict)


def test_the_modules_argument_spec_reads_the_registry():
    assert runtimes.TRITON_BACKENDS == runtimes.get("triton").backends
    assert runtimes.KSERVE_PROTOCOLS == ("v1", "v2")


def runtime_name_comparisons(path, names):
    """(line, text) of each comparison with a runtime name as a literal, e.g. `runtime == "kserve"`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        literals = [c.value for operand in [node.left] + node.comparators for c in ast.walk(operand)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        if set(literals) & set(names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_stack_file_outside_the_registry_branches_on_a_runtime_name(tmp_path):
    names = list(runtimes.RUNTIMES)
    sources = [p for p in STACK.rglob("*.py") if "runtimes" not in p.relative_to(STACK).parts and "__pycache__" not in p.parts]
    found = {str(p.relative_to(STACK)): runtime_name_comparisons(p, names) for p in sources}
    assert {path: hits for path, hits in found.items() if hits} == {}
    # the check itself can fail
    (tmp_path / "x.py").write_text('if spec["runtime"] in ("triton", "onnxruntime"):\n    pass\n')
    assert runtime_name_comparisons(tmp_path / "x.py", names) == [(1, "spec['runtime'] in ('triton', 'onnxruntime')")]


class Echo(Runtime):
    """A throwaway runtime: a server that takes its configuration from one file and answers /healthz."""

    name = "echo"
    images = {"cpu": "example.com/echo:1.0", "gpu": "example.com/echo:1.0-cuda"}
    ports = {"http": 7000, "grpc": 7001, "admin": 7002}
    model_root = "/srv/models"

    def health_path(self, model, protocol="v1"):
        return "/healthz/%s" % model

    def predict_path(self, model, protocol="v1"):
        return "/run/%s" % model

    def config_map(self, spec):
        return common.config_map(spec, "config", {"echo.json": json.dumps({"model": spec["model"]["name"]})})

    def container(self, spec):
        volume = common.model_volume(spec)
        server = {"name": "server", "image": spec["image"], "ports": common.container_ports(spec),
                  "volumeMounts": [{"name": "model", "mountPath": self.model_root, "readOnly": True}]}
        return server, [volume, {"name": "config", "configMap": {"name": "%s-config" % spec["name"]}}]


def test_a_new_runtime_is_one_registered_object(monkeypatch):
    monkeypatch.setitem(runtimes.RUNTIMES, "echo", Echo())
    spec, objects = deploy.plan({"name": "demo", "runtime": "echo", "model": {"name": "m", "pvc": "models"},
                                 "gpu": {"count": 1}, "warmup": {"body": {"x": 1}}})
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "demo-config"), ("ConfigMap", "demo-warmup"), ("Deployment", "demo"), ("Service", "demo"),
        ("PodDisruptionBudget", "demo")]
    pod = objects[2]["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert server["image"] == "example.com/echo:1.0-cuda"
    assert server["readinessProbe"]["httpGet"] == {"path": "/healthz/m", "port": "http"}
    assert {p["name"] for p in server["ports"]} == {"http", "grpc", "admin"}
    assert [c["name"] for c in pod["containers"]] == ["server", "warmup"]
    warmup = json.loads(objects[1]["data"]["warmup.json"])
    assert warmup["request"]["url"] == "http://127.0.0.1:7000/run/m" and warmup["health_url"].endswith("/healthz/m")
    # the Service exposes the runtime's service ports only (admin is not one)
    assert [p["name"] for p in objects[3]["spec"]["ports"]] == ["http", "grpc"]
    assert objects[2]["metadata"]["labels"]["app.kubernetes.io/name"] == "echo"


def test_a_new_runtime_is_validated_by_its_facts(monkeypatch):
    monkeypatch.setitem(runtimes.RUNTIMES, "echo", Echo())
    with pytest.raises(InputError) as error:
        deploy.plan({"name": "demo", "runtime": "echo", "model": {"name": "m", "pvc": "models", "versions": [1]}})
    assert error.value.msg.startswith("model.versions: applies to") and error.value.msg.endswith("Leave it out for echo.")
    with pytest.raises(InputError) as error:
        deploy.plan({"name": "demo", "runtime": "echo", "model": {"name": "m", "storage_uri": "gs://b/m"}})
    assert error.value.msg.startswith("model.storage_uri: gs:// is not a scheme echo can read")
