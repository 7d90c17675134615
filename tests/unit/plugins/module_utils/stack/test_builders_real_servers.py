"""The builders' TorchServe config.properties and Triton config.pbtxt (with model_warmup) and repository layout,
run by the real servers of tests/runtimes (TorchServe, tritonserver from nvidia-pytriton) on CPU; TF Serving's
model_config_list read back with TF Serving's own schema.

The servers start in a temporary directory standing in for the pod's filesystem: the ConfigMap's file where the
container mounts it, the model volume's directories where the PVC subPaths would land. Skipped, with the reason,
when the runtimes venv is not built (tests/runtimes/setup.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes import tensorflow_serving

RUNTIMES = Path(__file__).resolve().parents[5] / "tests" / "runtimes"
sys.path.insert(0, str(RUNTIMES))
import servers  # noqa: E402  pylint: disable=wrong-import-position,import-error

pytestmark = pytest.mark.skipif(servers.venv_ready() is not None, reason=str(servers.venv_ready()))


def server_container(objects):
    return [o for o in objects if o["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]


def test_torchserve_runs_the_rendered_config_and_command(tmp_path):
    models = servers.make_models(tmp_path)
    ports = {name: servers.free_port() for name in ("http", "management", "metrics", "grpc")}
    spec, objects = deploy.plan({"name": "ts", "runtime": "torchserve", "ports": ports,
                                 "model": {"name": "tiny", "pvc": "models", "mar_file": "tiny.mar"}})
    store = tmp_path / "model-store"
    store.mkdir()
    shutil.copy(models / "torchserve" / "tiny.mar", store)
    config = tmp_path / "config.properties"
    config.write_text(objects[0]["data"]["config.properties"].replace("/home/model-server/model-store", str(store)))
    container = server_container(objects)
    argv = [servers.VENV / "bin" / "torchserve"] + container["command"][1:-1] + [config]
    base = "http://127.0.0.1:%d" % ports["http"]

    def ready(server):
        status, body = servers.http("GET", "http://127.0.0.1:%d/models/tiny" % ports["management"], timeout=2)
        return status == 200 and any(w.get("status") == "READY" for w in body[0].get("workers", []))

    env = servers._env(JAVA_TOOL_OPTIONS="-Xmx512m", LOG_LOCATION=str(tmp_path / "logs"), METRICS_LOCATION=str(tmp_path / "logs"))
    with servers.running(servers.Server("torchserve", argv, ready, tmp_path, env=env)):
        status, body = servers.http("GET", base + container["readinessProbe"]["httpGet"]["path"])
        assert status == 200 and body["status"] == "Healthy"
        status, body = servers.http("POST", base + "/predictions/tiny", {"data": servers.LINEAR_ROW})
        assert status == 200 and body == [12.5, 0.5]
        status, body = servers.http("GET", "http://127.0.0.1:%d/metrics" % ports["metrics"])
        assert status == 200 and "ts_inference_requests_total" in str(body)


def test_triton_loads_the_rendered_repository_and_runs_model_warmup(tmp_path):
    models = servers.make_models(tmp_path)
    ports = {name: servers.free_port() for name in ("http", "grpc", "metrics")}
    spec, objects = deploy.plan({
        "name": "tri", "runtime": "triton", "ports": ports, "warmup": {"count": 7},
        "model": {"name": "linear", "pvc": "models", "path": "linear", "backend": "python", "max_batch_size": 8,
                  "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
                  "outputs": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}]}})
    container = server_container(objects)
    repository = tmp_path / "repository"
    for mount in container["volumeMounts"]:
        if not mount["mountPath"].startswith("/models/"):
            continue
        target = repository / mount["mountPath"][len("/models/"):]
        target.parent.mkdir(parents=True, exist_ok=True)
        if mount["name"] == "config":
            target.write_text(objects[0]["data"][mount["subPath"]])
        else:
            # the PVC's subPath, from the tiny models' Triton repository
            os.symlink(models / "triton" / mount["subPath"], target)
    args = [arg.replace("=/models", "=%s" % repository) for arg in container["args"]]
    argv = [servers.SITE / "pytriton" / "tritonserver" / "bin" / "tritonserver"] + args
    # verbose logging (test only) is where Triton says it ran each warmup sample
    argv += ["--backend-directory", servers._triton_backends(tmp_path), "--log-verbose=1"]  # pylint: disable=protected-access
    base = "http://127.0.0.1:%d" % ports["http"]

    def ready(server):
        return servers.http("GET", base + container["readinessProbe"]["httpGet"]["path"], timeout=2)[0] == 200

    env = servers._env(LD_LIBRARY_PATH=str(servers.SITE / "nvidia_pytriton.libs"), PYTHONPATH=str(servers.SITE))
    with servers.running(servers.Server("triton", argv, ready, tmp_path, env=env)) as server:
        status, config = servers.http("GET", base + "/v2/models/linear/config")
        assert status == 200
        assert config["model_warmup"] == [{"name": "inferops_warmup", "batch_size": 1, "count": 7,
                                           "inputs": {"x": {"data_type": "TYPE_FP32", "dims": [4], "zero_data": True}}}]
        status, body = servers.http("POST", base + "/v2/models/linear/infer",
                                    {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": servers.LINEAR_ROW}]})
        assert status == 200 and body["outputs"][0]["data"] == [12.5, 0.5]
        log = server.log_path.read_text(errors="replace")
    # count 7: seven warmup runs before the model was ready, no eighth
    assert "running warmup sample 'inferops_warmup' for iteration 7" in log
    assert "for iteration 8" not in log


# TF Serving has no binary to run here; its config file is read back with TF Serving's own schema
# (model_server_config.proto from tensorflow-serving-api, requirements-runtimes-nodeps.txt) and
# protobuf's text-format parser, which is what the server itself reads --model_config_file with.
NODEPS = RUNTIMES.parent.parent / ".tmp" / "runtimes-nodeps"
READ_CONFIG = (
    "import sys\n"
    "from google.protobuf import json_format, text_format\n"
    "from tensorflow_serving.config import model_server_config_pb2\n"
    "config = text_format.Parse(sys.stdin.read(), model_server_config_pb2.ModelServerConfig())\n"
    "print(json_format.MessageToJson(config, preserving_proto_field_name=True))\n"
)


def tf_serving_reads(text):
    proc = subprocess.run([str(servers.PYTHON), "-c", READ_CONFIG], input=text, capture_output=True, text=True,
                          env=servers._env(PYTHONPATH=str(NODEPS)), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)["model_config_list"]["config"]


def test_the_tf_serving_schema_is_the_release_of_the_pinned_image():
    pin = [line for line in (RUNTIMES.parent.parent / "requirements-runtimes-nodeps.txt").read_text().splitlines()
           if line.startswith("tensorflow-serving-api==")][0].split("==")[1]
    assert tensorflow_serving.RUNTIME.images["cpu"].endswith(":" + pin)
    assert (NODEPS / "tensorflow_serving" / "config" / "model_server_config_pb2.py").is_file()


@pytest.mark.parametrize("model, policy", [
    ({"name": "resnet", "pvc": "models", "path": "resnet"}, {"latest": {"num_versions": 1}}),
    ({"name": "resnet", "pvc": "models", "latest_versions": 3}, {"latest": {"num_versions": 3}}),
    ({"name": "resnet", "pvc": "models", "version_policy": "all"}, {"all": {}}),
    ({"name": "r-50.v2", "storage_uri": "gs://bucket/models/r-50", "versions": [1, 2], "version_labels": {"stable": 1, "canary": 2}},
     {"specific": {"versions": ["1", "2"]}}),
], ids=["latest", "latest-3", "all", "specific-with-labels"])
def test_tf_serving_reads_the_rendered_model_config_list(model, policy):
    _spec, objects = deploy.plan({"name": "tfs", "runtime": "tensorflow_serving", "model": model})
    (config,) = tf_serving_reads(objects[0]["data"]["models.config"])
    assert config["name"] == model["name"] and config["model_platform"] == "tensorflow"
    assert config["base_path"] == model.get("storage_uri", "/models/resnet")
    assert config["model_version_policy"] == policy
    assert config.get("version_labels", {}) == {k: str(v) for k, v in model.get("version_labels", {}).items()}
