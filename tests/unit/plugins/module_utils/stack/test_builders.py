"""The inference stack's builders: each runtime's objects, the shared pod pieces, KServe, warmup wiring, render."""

from __future__ import annotations

import copy
import inspect
import json

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import CONFIG_HASH_ANNOTATION
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy, render, warmup_agent
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes import triton

BASES = {
    "tensorflow_serving": {"model": {"name": "resnet", "pvc": "models", "path": "tf/resnet"}},
    "torchserve": {"model": {"name": "densenet", "pvc": "models", "path": "ts"}},
    "triton": {"model": {"name": "bert", "pvc": "models", "path": "repo/bert", "backend": "onnxruntime", "versions": [1, 3]}},
    "onnxruntime": {"model": {"name": "bert", "pvc": "models", "path": "bert"}},
    "kserve": {"model": {"name": "iris", "format": "sklearn", "storage_uri": "gs://bucket/iris"}},
}
WARMUP = {
    "tensorflow_serving": {"body": {"instances": [[1.0, 2.0]]}, "count": 4},
    "torchserve": {"body": "{\"data\": [1]}", "count": 4},
    "triton": {"inputs": [{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [128]}], "count": 4},
    "onnxruntime": {"inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}], "count": 4},
    "kserve": {"body": {"instances": [[5.1, 3.5, 1.4, 0.2]]}, "count": 4},
}
HEALTH = {
    "tensorflow_serving": "/v1/models/resnet",
    "torchserve": "/ping",
    "triton": "/v2/health/ready",
    "onnxruntime": "/v2/health/ready",
    "kserve": "/v1/models/iris",
}


def build(runtime, **extra):
    params = dict(copy.deepcopy(BASES[runtime]), name="demo", namespace="serving", runtime=runtime)
    params.update(copy.deepcopy(extra))
    return deploy.plan(params)


def by_kind(objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def pod_of(objects):
    for obj in objects:
        if obj["kind"] == "Deployment":
            return obj["spec"]["template"]["spec"]
        if obj["kind"] == "InferenceService":
            return obj["spec"]["predictor"]
    raise AssertionError("no workload")


def server_of(objects):
    pod = pod_of(objects)
    return pod["model"] if "model" in pod else pod["containers"][0]


@pytest.mark.parametrize("runtime, kinds", [
    ("tensorflow_serving", ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]),
    ("torchserve", ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]),
    ("triton", ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]),
    ("onnxruntime", ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]),
    ("kserve", ["ServingRuntime", "InferenceService", "PodDisruptionBudget"]),
])
def test_objects_in_apply_order(runtime, kinds):
    objects = build(runtime)[1]
    assert [o["kind"] for o in objects] == kinds
    assert all(o["metadata"]["namespace"] == "serving" for o in objects)
    assert all(o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "inferops.kubernetes" for o in objects)


@pytest.mark.parametrize("runtime", sorted(BASES))
def test_security_context_everywhere(runtime):
    objects = build(runtime, warmup=WARMUP[runtime])[1]
    pod = pod_of(objects)
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    containers = [server_of(objects)] + [c for c in pod.get("containers", []) if c is not server_of(objects)]
    for container in containers:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("runtime", sorted(BASES))
def test_probes_on_real_health_endpoints_and_startup_sized_for_loading(runtime):
    objects = build(runtime, startup_timeout=900)[1]
    server = server_of(objects)
    assert server["readinessProbe"]["httpGet"]["path"] == HEALTH[runtime]
    startup = server["startupProbe"]
    assert startup["httpGet"]["path"] == HEALTH[runtime]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 900
    assert server["lifecycle"] == {"preStop": {"sleep": {"seconds": common.PRE_STOP_SLEEP}}}
    assert pod_of(objects)["terminationGracePeriodSeconds"] == 60


def test_kserve_v2_probes():
    server = server_of(build("kserve", kserve={"protocol": "v2"})[1])
    assert server["readinessProbe"]["httpGet"] == {"path": "/v2/models/iris/ready", "port": 8080}
    assert server["protocolVersion"] == "v2"


@pytest.mark.parametrize("runtime, ports", [
    ("tensorflow_serving", {"grpc": 8500, "http": 8501}),
    ("triton", {"http": 8000, "grpc": 8001, "metrics": 8002}),
    ("onnxruntime", {"http": 8000, "grpc": 8001, "metrics": 8002}),
    ("torchserve", {"http": 8080, "management": 8081, "metrics": 8082, "grpc": 7070}),
])
def test_named_ports_and_service(runtime, ports):
    objects = build(runtime)[1]
    server = server_of(objects)
    assert {p["name"]: p["containerPort"] for p in server["ports"]} == ports
    service = by_kind(objects)[("Service", "demo")]
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {k: v for k, v in ports.items() if k != "management"}
    assert all(p["targetPort"] == p["name"] for p in service["spec"]["ports"])
    assert service["spec"]["selector"] == common.selector_labels(build(runtime)[0])
    grpc = [p for p in service["spec"]["ports"] if p["name"] == "grpc"][0]
    assert grpc["appProtocol"] == "kubernetes.io/h2c"


def test_port_override_reaches_args_and_service():
    objects = build("tensorflow_serving", ports={"http": 9001})[1]
    server = server_of(objects)
    assert "--rest_api_port=9001" in server["args"] and "--port=8500" in server["args"]
    assert {p["name"]: p["port"] for p in by_kind(objects)[("Service", "demo")]["spec"]["ports"]}["http"] == 9001


def test_gpu_placement_toleration_and_spread():
    spec, objects = build("triton", gpu={"count": 2, "product": "NVIDIA-H100-80GB-HBM3"}, replicas=3)
    pod = pod_of(objects)
    assert server_of(objects)["resources"] == {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": 2}}
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": common.selector_labels(spec)},
    }]
    assert by_kind(objects)[("Deployment", "demo")]["spec"]["replicas"] == 3


def test_no_gpu_no_gpu_toleration_and_required_spread():
    pod = pod_of(build("triton", spread="require")[1])
    assert "tolerations" not in pod and "nodeSelector" not in pod
    assert pod["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert "topologySpreadConstraints" not in pod_of(build("triton", spread="none")[1])


def test_mig_profile_resource():
    server = server_of(build("triton", gpu={"mig_profile": "1g.10gb"})[1])
    assert server["resources"]["limits"] == {"nvidia.com/mig-1g.10gb": 1}


def test_tf_serving_model_config_list():
    objects = build("tensorflow_serving", model={"name": "resnet", "pvc": "models", "path": "tf/resnet", "versions": [1, 2],
                                                 "version_labels": {"stable": 1, "canary": 2}})[1]
    config = by_kind(objects)[("ConfigMap", "demo-config")]["data"]["models.config"]
    assert config == (
        "model_config_list {\n"
        "  config {\n"
        "    name: \"resnet\"\n"
        "    base_path: \"/models/resnet\"\n"
        "    model_platform: \"tensorflow\"\n"
        "    model_version_policy { specific { versions: 1 versions: 2 } }\n"
        "    version_labels { key: \"canary\" value: 2 }\n"
        "    version_labels { key: \"stable\" value: 1 }\n"
        "  }\n"
        "}\n"
    )
    server = server_of(objects)
    assert server["command"] == ["tensorflow_model_server"]
    assert "--model_config_file=/etc/tensorflow-serving/models.config" in server["args"]
    assert {"name": "model", "mountPath": "/models/resnet", "readOnly": True, "subPath": "tf/resnet"} in server["volumeMounts"]


@pytest.mark.parametrize("model, policy", [
    ({"name": "m", "pvc": "p"}, "latest { num_versions: 1 }"),
    ({"name": "m", "pvc": "p", "latest_versions": 3}, "latest { num_versions: 3 }"),
    ({"name": "m", "pvc": "p", "version_policy": "all"}, "all {}"),
])
def test_tf_serving_version_policies(model, policy):
    objects = build("tensorflow_serving", model=model)[1]
    assert "model_version_policy { %s }" % policy in objects[0]["data"]["models.config"]


def test_tf_serving_gcs_uri_is_the_base_path_and_no_volume():
    objects = build("tensorflow_serving", model={"name": "m", "storage_uri": "gs://bucket/models/m"})[1]
    assert 'base_path: "gs://bucket/models/m"' in objects[0]["data"]["models.config"]
    assert not [v for v in pod_of(objects)["volumes"] if "persistentVolumeClaim" in v]


def test_torchserve_config_properties():
    objects = build("torchserve", model={"name": "densenet", "pvc": "models", "path": "ts", "mar_file": "densenet161.mar",
                                         "version": "2.0"})[1]
    lines = objects[0]["data"]["config.properties"].splitlines()
    assert "inference_address=http://0.0.0.0:8080" in lines
    assert "management_address=http://0.0.0.0:8081" in lines
    assert "metrics_address=http://0.0.0.0:8082" in lines
    assert "metrics_mode=prometheus" in lines
    assert "load_models=densenet=densenet161.mar" in lines
    models = json.loads([line for line in lines if line.startswith("models=")][0][len("models="):])
    assert models == {"densenet": {"2.0": {"defaultVersion": True, "marName": "densenet161.mar", "minWorkers": 1,
                                           "maxWorkers": 1, "responseTimeout": 120}}}
    server = server_of(objects)
    assert server["command"][:3] == ["torchserve", "--start", "--foreground"]
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert mounts["/home/model-server/model-store"]["subPath"] == "ts"
    assert {"/tmp", "/home/model-server/tmp", "/home/model-server/logs"} <= set(mounts)


def test_torchserve_https_archive():
    objects = build("torchserve", model={"name": "m", "storage_uri": "https://models.example/m.mar"})[1]
    text = objects[0]["data"]["config.properties"]
    assert "load_models=m=https://models.example/m.mar" in text
    assert "allowed_urls=https://models\\.example/m\\.mar" in text


def test_triton_model_config_with_native_warmup():
    model = {"name": "bert", "pvc": "models", "path": "repo/bert", "backend": "tensorrt", "versions": [1, 3], "max_batch_size": 8}
    objects = build("triton", gpu={"count": 1}, model=model, warmup=WARMUP["triton"])[1]
    config = objects[0]["data"]["config.pbtxt"]
    assert config == (
        'name: "bert"\n'
        'platform: "tensorrt_plan"\n'
        "max_batch_size: 8\n"
        "version_policy: { specific: { versions: [ 1, 3 ] } }\n"
        "instance_group [ { kind: KIND_GPU, count: 1 } ]\n"
        "model_warmup [\n"
        "  {\n"
        '    name: "inferops_warmup"\n'
        "    batch_size: 1\n"
        "    count: 4\n"
        '    inputs { key: "input_ids", value: { data_type: TYPE_INT64, dims: [ 128 ], zero_data: true } }\n'
        "  }\n"
        "]\n"
    )
    # Triton warms natively: no sidecar, no warmup ConfigMap.
    assert [c["name"] for c in pod_of(objects)["containers"]] == ["server"]
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"] == ["demo-config"]


def test_triton_instance_kind_follows_the_gpus_unless_set():
    model = {"name": "bert", "pvc": "models", "backend": "python", "max_batch_size": 8,
             "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}], "outputs": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}]}

    def kind(**args):
        config = build("triton", **args)[1][0]["data"]["config.pbtxt"]
        return [line for line in config.splitlines() if line.startswith("instance_group")]

    assert kind(gpu={"count": 1}, model=model) == ["instance_group [ { kind: KIND_GPU, count: 1 } ]"]
    assert kind(model=model) == ["instance_group [ { kind: KIND_CPU, count: 1 } ]"]
    # GPUs requested, the model kept on CPU (the real node's stand-in GPUs), or Triton's choice
    assert kind(gpu={"count": 1}, model=dict(model, instance_kind="cpu")) == ["instance_group [ { kind: KIND_CPU, count: 1 } ]"]
    assert kind(gpu={"count": 1}, model=dict(model, instance_kind="auto")) == ["instance_group [ { kind: KIND_AUTO, count: 1 } ]"]


def test_triton_repository_layout():
    objects = build("triton")[1]
    server = server_of(objects)
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert mounts["/models"]["name"] == "model-repository"
    assert mounts["/models/bert/config.pbtxt"] == {"name": "config", "mountPath": "/models/bert/config.pbtxt",
                                                   "subPath": "config.pbtxt", "readOnly": True}
    assert mounts["/models/bert/1"]["subPath"] == "repo/bert/1" and mounts["/models/bert/3"]["subPath"] == "repo/bert/3"
    assert "--strict-readiness=true" in server["args"] and "--model-repository=/models" in server["args"]
    volumes = {v["name"]: v for v in pod_of(objects)["volumes"]}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    assert volumes["model-repository"] == {"name": "model-repository", "emptyDir": {}}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory"}
    assert "instance_group [ { kind: KIND_CPU, count: 1 } ]" in objects[0]["data"][triton.CONFIG_KEY]


def test_onnxruntime_is_triton_onnxruntime_backend():
    spec, objects = build("onnxruntime")
    assert 'backend: "onnxruntime"' in objects[0]["data"]["config.pbtxt"]
    assert server_of(objects)["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert objects[1]["metadata"]["labels"]["app.kubernetes.io/name"] == "onnxruntime"


@pytest.mark.parametrize("runtime", ["tensorflow_serving", "torchserve", "kserve"])
def test_warmup_sidecar_is_a_regular_container_gating_readiness(runtime):
    spec, objects = build(runtime, warmup=WARMUP[runtime])
    pod = pod_of(objects)
    assert "initContainers" not in pod
    sidecar = [c for c in pod["containers"] if c["name"] == "warmup"][0]
    assert sidecar["command"] == ["python3", "/opt/inferops/warmup/warmup_agent.py", "--config", "/opt/inferops/warmup/warmup.json"]
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "warmup"}
    assert sidecar["ports"] == [{"name": "warmup", "containerPort": 8099, "protocol": "TCP"}]
    assert "livenessProbe" not in sidecar
    assert not sidecar["image"].endswith(":latest")
    assert {"name": "warmup", "configMap": {"name": "demo-warmup"}} in pod["volumes"]
    config_map = by_kind(objects)[("ConfigMap", "demo-warmup")]
    assert config_map["data"]["warmup_agent.py"] == inspect.getsource(warmup_agent)
    config = json.loads(config_map["data"]["warmup.json"])
    assert config["count"] == 4 and config["listen_port"] == 8099
    assert config["request"]["method"] == "POST" and config["request"]["headers"] == {"Content-Type": "application/json"}
    assert isinstance(config["request"]["body"], str)


@pytest.mark.parametrize("runtime, health, predict", [
    ("tensorflow_serving", "http://127.0.0.1:8501/v1/models/resnet", "http://127.0.0.1:8501/v1/models/resnet:predict"),
    ("torchserve", "http://127.0.0.1:8080/ping", "http://127.0.0.1:8080/predictions/densenet"),
    ("kserve", "http://127.0.0.1:8080/v1/models/iris", "http://127.0.0.1:8080/v1/models/iris:predict"),
])
def test_warmup_json_targets_the_local_server(runtime, health, predict):
    objects = build(runtime, warmup=WARMUP[runtime])[1]
    config = json.loads(by_kind(objects)[("ConfigMap", "demo-warmup")]["data"]["warmup.json"])
    assert (config["health_url"], config["request"]["url"]) == (health, predict)


def test_warmup_json_kserve_v2():
    objects = build("kserve", warmup=WARMUP["kserve"], kserve={"protocol": "v2"})[1]
    config = json.loads(by_kind(objects)[("ConfigMap", "demo-warmup")]["data"]["warmup.json"])
    assert config["health_url"].endswith("/v2/models/iris/ready") and config["request"]["url"].endswith("/v2/models/iris/infer")


@pytest.mark.parametrize("runtime", ["tensorflow_serving", "torchserve", "kserve"])
def test_warmup_json_passes_the_agents_own_validation(runtime, tmp_path):
    objects = build(runtime, warmup=WARMUP[runtime])[1]
    path = tmp_path / "warmup.json"
    path.write_text(by_kind(objects)[("ConfigMap", "demo-warmup")]["data"]["warmup.json"])
    config = warmup_agent.load_config(str(path))
    assert config["count"] == 4


def test_config_change_rolls_the_pods():
    first = build("tensorflow_serving", model={"name": "m", "pvc": "p", "versions": [1]})[1]
    second = build("tensorflow_serving", model={"name": "m", "pvc": "p", "versions": [1, 2]})[1]
    annotation = CONFIG_HASH_ANNOTATION
    assert (first[1]["spec"]["template"]["metadata"]["annotations"][annotation]
            != second[1]["spec"]["template"]["metadata"]["annotations"][annotation])
    again = build("tensorflow_serving", model={"name": "m", "pvc": "p", "versions": [1]})[1]
    assert again == first


def test_rollout_strategy_and_pdb():
    objects = build("triton", max_unavailable="25%")[1]
    deployment = by_kind(objects)[("Deployment", "demo")]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    pdb = by_kind(objects)[("PodDisruptionBudget", "demo")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == "25%"
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_kserve_own_autoscaler_settings_and_service_account():
    isvc = by_kind(build("kserve", replicas=2, service_account="iris-reader",
                         kserve={"max_replicas": 6, "scale_metric": "cpu", "scale_target": 70})[1])[("InferenceService", "demo")]
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 6)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 70)
    assert (predictor["serviceAccountName"], predictor["automountServiceAccountToken"]) == ("iris-reader", False)


def test_pods_run_as_the_named_account_and_get_its_token_only_when_asked():
    pod = by_kind(build("triton")[1])[("Deployment", "demo")]["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod and pod["automountServiceAccountToken"] is False
    pod = by_kind(build("triton", service_account="demo", service_account_token=True)[1])[("Deployment", "demo")]["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("demo", True)


def test_kserve_inference_service_and_serving_runtime():
    objects = build("kserve", replicas=2, gpu={"count": 1, "product": "Tesla-T4"},
                    kserve={"deployment_mode": "Knative", "protocol": "v2", "canary_traffic_percent": 10})[1]
    isvc = by_kind(objects)[("InferenceService", "demo")]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Knative"}
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 2)
    assert predictor["model"]["modelFormat"] == {"name": "sklearn"}
    assert predictor["model"]["runtime"] == "demo-runtime"
    assert predictor["model"]["storageUri"] == "gs://bucket/iris"
    assert predictor["model"]["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.product": "Tesla-T4"}
    assert predictor["labels"]["app.kubernetes.io/instance"] == "demo"
    runtime = by_kind(objects)[("ServingRuntime", "demo-runtime")]
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert runtime["spec"]["supportedModelFormats"] == [{"name": "sklearn", "autoSelect": False}]
    container = runtime["spec"]["containers"][0]
    assert container["name"] == "kserve-container" and container["image"] == "docker.io/kserve/sklearnserver:v0.17.0"
    assert "--model_name={{.Name}}" in container["args"] and "--http_port=8080" in container["args"]
    assert "serving.kubeflow.org" not in json.dumps(objects)


def test_kserve_existing_runtime_and_pvc_source():
    objects = build("kserve", model={"name": "iris", "format": "onnx", "pvc": "models", "path": "iris"},
                    kserve={"runtime": "kserve-tritonserver"})[1]
    assert [o["kind"] for o in objects] == ["InferenceService", "PodDisruptionBudget"]
    model = objects[0]["spec"]["predictor"]["model"]
    assert (model["runtime"], model["storageUri"]) == ("kserve-tritonserver", "pvc://models/iris")
    assert objects[0]["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"


def test_overrides_merge_into_the_named_object():
    objects = build("triton", overrides=[
        {"kind": "Deployment", "spec": {"revisionHistoryLimit": 2, "template": {"metadata": {"annotations": {"a": "b"}}}}},
        {"kind": "ConfigMap", "metadata": {"name": "demo-config", "labels": {"team": "nlp"}}},
    ])[1]
    deployment = by_kind(objects)[("Deployment", "demo")]
    assert deployment["spec"]["revisionHistoryLimit"] == 2
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["a"] == "b" and CONFIG_HASH_ANNOTATION in annotations
    assert by_kind(objects)[("ConfigMap", "demo-config")]["metadata"]["labels"]["team"] == "nlp"


def test_user_labels_on_every_object_and_pod():
    objects = build("torchserve", labels={"team": "vision"})[1]
    assert all(o["metadata"]["labels"]["team"] == "vision" for o in objects)
    assert objects[1]["spec"]["template"]["metadata"]["labels"]["team"] == "vision"


def test_read_only_root_filesystem_can_be_turned_off():
    server = server_of(build("torchserve", read_only_root_filesystem=False)[1])
    assert server["securityContext"]["readOnlyRootFilesystem"] is False


def test_render_writes_the_built_objects_and_is_idempotent(tmp_path):
    objects = build("tensorflow_serving", warmup=WARMUP["tensorflow_serving"])[1]
    checked = render.render(objects, str(tmp_path / "out"), check_mode=True)
    assert checked["changed"] is True and not (tmp_path / "out").exists()
    first = render.render(objects, str(tmp_path / "out"))
    assert [p.rsplit("/", 1)[-1] for p in first["rendered_files"]] == [
        "00-configmap-demo-config.yaml", "01-configmap-demo-warmup.yaml", "02-deployment-demo.yaml",
        "03-service-demo.yaml", "04-poddisruptionbudget-demo.yaml"]
    assert [yaml.safe_load(open(p, encoding="utf-8")) for p in first["rendered_files"]] == objects
    second = render.render(objects, str(tmp_path / "out"))
    assert second["changed"] is False and second["diff"] == []


def test_render_needs_a_directory(tmp_path):
    objects = build("triton")[1]
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match="render_dir: .* is not a directory"):
        render.render(objects, str(tmp_path / "file"))


def test_triton_inputs_outputs_and_warmup_defaulting_to_model_inputs():
    objects = build("triton", model={"name": "bert", "pvc": "models", "backend": "pytorch",
                                     "inputs": [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}],
                                     "outputs": [{"name": "OUTPUT__0", "data_type": "TYPE_FP32", "dims": [-1]}]},
                    warmup={"count": 2})[1]
    config = objects[0]["data"]["config.pbtxt"]
    assert 'input [\n  { name: "INPUT__0", data_type: TYPE_FP32, dims: [ 3, 224, 224 ] }\n]' in config
    assert 'output [\n  { name: "OUTPUT__0", data_type: TYPE_FP32, dims: [ -1 ] }\n]' in config
    assert 'backend: "pytorch"' in config
    assert 'inputs { key: "INPUT__0", value: { data_type: TYPE_FP32, dims: [ 3, 224, 224 ], zero_data: true } }' in config


def test_kserve_knative_sidecar_declares_no_second_port():
    # Knative Serving accepts one container port per pod: the sidecar is probed by number instead.
    predictor = build("kserve", warmup=WARMUP["kserve"], kserve={"deployment_mode": "Knative"})[1][-2]["spec"]["predictor"]
    sidecar = predictor["containers"][0]
    assert "ports" not in sidecar and sidecar["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8099}
