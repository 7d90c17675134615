"""Real inference servers on this machine's CPU, started for tests and benchmarks.

Each server runs under the runtimes venv (.tmp/runtimes-venv, built by tests/runtimes/setup.sh) in its own
process group, on free ports; ``start`` returns once the server says it is ready, ``stop`` ends the whole
process group (TorchServe's Java frontend and its Python workers, Triton and its python-backend stubs).
The context managers stop their server even when the test body fails.

- KServe model server (kserve from PyPI) with a scikit-learn model: V1 and V2 REST, V2 gRPC.
- Triton Inference Server: the tritonserver binary from the nvidia-pytriton wheel, run directly on a model
  repository (python backend executing an ONNX model with onnxruntime; native ``model_warmup`` optional).
- TorchServe (Java 17) with a TorchScript model archived by torch-model-archiver.
- A STAND-IN for TensorFlow Serving's REST API (tfserving_standin.py): not TF Serving, see its docstring.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".tmp" / "runtimes-venv"
PYTHON = VENV / "bin" / "python"
SITE = VENV / "lib" / "python3.11" / "site-packages"
MODELS = HERE / "models"
# How long stop/kill wait for the killed process group to be gone.
GROUP_EXIT_TIMEOUT = 30.0

# The sample inputs each server's model accepts (the same shape the warmup requests use).
IRIS_ROWS = [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]
LINEAR_ROW = [1.0, 2.0, 3.0, 4.0]


def venv_ready():
    """None when the runtimes venv is usable, else why not (the tests skip with that reason)."""
    if not (VENV / ".installed").is_file() or not PYTHON.exists():
        return "the runtimes venv is not built: run tests/runtimes/setup.sh (make runtimes-venv)"
    if shutil.which("java") is None:
        return "java is not installed: run tests/runtimes/setup.sh"
    return None


_HANDED_OUT = set()


def _ephemeral_low():
    """The lowest port the kernel hands out as a connection's local port (ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port free on 127.0.0.1, below the kernel's ephemeral range: a port bind(0) picks there can be taken
    as the local port of any outgoing connection (the API server's, the kubelet's) before the server binds
    it, which a CI run saw as TorchServe's "Address already in use"."""
    low = _ephemeral_low()
    for _attempt in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port on 127.0.0.1 below %d after 200 tries" % low)


def _stat(pid):
    """State and process group of a process, from /proc/<pid>/stat (the fields after the command name)."""
    try:
        fields = Path("/proc/%s/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None, None
    return fields[0], int(fields[2])


def group_members(group):
    """Process ids in process group ``group`` that have not exited (zombies, already dead, do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state, pgid = _stat(entry.name)
            if pgid == group and state != "Z":
                members.append(int(entry.name))
    return members


def http(method, url, body=None, timeout=30.0, headers=None):
    """(status, parsed JSON or text) of one request; status None when nothing answered."""
    data = json.dumps(body).encode("utf-8") if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=dict({"Content-Type": "application/json"} if data else {}, **(headers or {})))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        return None, None
    try:
        return status, json.loads(raw.decode("utf-8"))
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def make_models(workdir):
    """The tiny models (tests/runtimes/models/make_models.py), made once per directory."""
    out = Path(workdir) / "models"
    if not (out / ".done").exists():
        subprocess.run([str(PYTHON), str(MODELS / "make_models.py"), str(out)], check=True, capture_output=True)
    return out


class Server:
    """One server process group: start (waits for ready), stop, restart; logs in ``log_path``."""

    def __init__(self, name, argv, ready, workdir, env=None, startup_timeout=180.0, stale_files=(), **info):
        self.name = name
        self.argv = [str(part) for part in argv]
        self._ready = ready
        self.workdir = Path(workdir)
        self.env = env
        self.startup_timeout = startup_timeout
        self.log_path = self.workdir / ("%s.log" % name)
        self.process = None
        self.ready_after_s = None
        self.stale_files = [Path(path) for path in stale_files]
        for key, value in info.items():
            setattr(self, key, value)

    def start(self):
        for path in self.stale_files:  # left by a killed process; a restarted container would not have them
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        log = open(self.log_path, "ab")
        started = time.monotonic()
        self.process = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited with %s before it was ready:\n%s" % (self.name, self.process.returncode, self.log_tail()))
            if self._ready(self):
                self.ready_after_s = time.monotonic() - started
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("%s was not ready within %.0fs:\n%s" % (self.name, self.startup_timeout, self.log_tail()))

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        self.kill()  # whatever of the group is left (workers, stubs)

    def kill(self):
        """SIGKILL the whole group at once, like a crashed or OOM-killed container.

        Returns once no member of the group runs any more (or after ``GROUP_EXIT_TIMEOUT``): a killed JVM
        takes a moment to tear down its heap, and until then it still holds its ports.
        """
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait()
        self.process = None
        deadline = time.monotonic() + GROUP_EXIT_TIMEOUT
        while group_members(group) and time.monotonic() < deadline:
            time.sleep(0.1)

    def restart(self):
        self.stop()
        return self.start()

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running(server):
    try:
        yield server.start()
    finally:
        server.stop()


def _env(**extra):
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (VENV / "bin", env.get("PATH", ""))
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def kserve_server(workdir):
    models = make_models(workdir)
    port, grpc_port = free_port(), free_port()
    base = "http://127.0.0.1:%d" % port

    def ready(server):
        status, body = http("GET", base + "/v1/models/iris", timeout=2)
        return status == 200 and isinstance(body, dict) and body.get("ready") is True

    return Server("kserve", [PYTHON, MODELS / "kserve_iris.py", "--model_dir", models / "sklearn", "--http_port", port,
                             "--grpc_port", grpc_port], ready, workdir, env=_env(),
                  http=base, grpc="127.0.0.1:%d" % grpc_port, model="iris", health_url=base + "/v1/models/iris")


def _triton_backends(workdir):
    """A backend directory like the one pytriton prepares: its python backend plus the stub for Python 3.11."""
    dist = SITE / "pytriton" / "tritonserver"
    target = Path(workdir) / "triton-backends"
    python = target / "python"
    if not (python / "triton_python_backend_stub").exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(dist / "backends" / "python", python)
        shutil.copy(dist / "python_backend_stubs" / "3.11" / "triton_python_backend_stub", python / "triton_python_backend_stub")
    return target


def triton_server(workdir, native_warmup=True):
    """tritonserver on a model repository; ``native_warmup`` picks the config with ``model_warmup``."""
    models = make_models(workdir)
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    base = "http://127.0.0.1:%d" % port
    binary = SITE / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    repository = models / ("triton" if native_warmup else "triton-cold")
    env = _env(LD_LIBRARY_PATH=str(SITE / "nvidia_pytriton.libs"), PYTHONPATH=str(SITE))

    def ready(server):
        return http("GET", base + "/v2/health/ready", timeout=2)[0] == 200

    return Server("triton", [binary, "--model-repository", repository, "--backend-directory", _triton_backends(workdir),
                             "--http-port", port, "--grpc-port", grpc_port, "--metrics-port", metrics_port,
                             "--strict-readiness", "true", "--exit-on-error", "true"],
                  ready, workdir, env=env, http=base, grpc="127.0.0.1:%d" % grpc_port, model="linear",
                  health_url=base + "/v2/models/linear/ready", native_warmup=native_warmup)


def torchserve_server(workdir):
    models = make_models(workdir)
    port, management, metrics, grpc_port, grpc_management = (free_port() for index in range(5))
    base = "http://127.0.0.1:%d" % port
    # TorchServe keeps its pid file in the temp directory: one per server, so servers never see each other's.
    tmp = Path(workdir) / ("torchserve-tmp-%d" % port)
    tmp.mkdir(exist_ok=True)
    config = Path(workdir) / ("torchserve-%d.properties" % port)
    config.write_text("\n".join([
        "inference_address=%s" % base,
        "management_address=http://127.0.0.1:%d" % management,
        "metrics_address=http://127.0.0.1:%d" % metrics,
        "grpc_inference_address=127.0.0.1",
        "grpc_management_address=127.0.0.1",
        "grpc_inference_port=%d" % grpc_port,
        "grpc_management_port=%d" % grpc_management,
        "default_workers_per_model=1",
        "disable_system_metrics=true",
        "",
    ]))

    def ready(server):
        status, body = http("GET", "http://127.0.0.1:%d/models/tiny" % management, timeout=2)
        if status != 200 or not isinstance(body, list) or not body:
            return False
        return any(worker.get("status") == "READY" for worker in body[0].get("workers", []))

    return Server("torchserve", [VENV / "bin" / "torchserve", "--start", "--foreground", "--ncs", "--disable-token-auth",
                                 "--ts-config", config, "--model-store", models / "torchserve", "--models", "tiny=tiny.mar"],
                  ready, workdir, env=_env(JAVA_TOOL_OPTIONS="-Xmx512m", TMPDIR=str(tmp)), stale_files=[tmp / ".model_server.pid"],
                  http=base, model="tiny", health_url=base + "/ping", management="http://127.0.0.1:%d" % management)


def tf_serving_standin(workdir, load_delay=0.0):
    """The TF Serving REST STAND-IN (not TensorFlow Serving); stdlib only, so any python runs it."""
    port = free_port()
    base = "http://127.0.0.1:%d" % port

    def ready(server):
        status, body = http("GET", base + "/v1/models/m", timeout=2)
        return status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"

    return Server("tf-serving-standin", [sys.executable, HERE / "tfserving_standin.py", "--port", port, "--model", "m",
                                         "--load-delay", load_delay], ready, workdir, http=base, model="m",
                  health_url=base + "/v1/models/m")


def grpc_infer(address, model, name, datatype, data):
    """A V2 gRPC inference request with tritonclient (runtimes venv); returns its JSON summary."""
    result = subprocess.run([str(PYTHON), str(MODELS / "grpc_infer.py"), address, model, name, datatype, json.dumps(data)],
                            capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise AssertionError("gRPC request failed:\n%s" % result.stderr[-3000:])
    return json.loads(result.stdout)
