"""The warmup module against local HTTP servers.

The TF Serving preset talks to tests/runtimes/tfserving_standin.py (a STAND-IN for TF Serving's REST API,
see its docstring); TLS options against a stdlib HTTPS server with certificates made by openssl here.
tests/runtimes/ runs the module against the real KServe, Triton and TorchServe servers."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.modules import warmup

RUNTIMES = Path(__file__).resolve().parents[3] / "runtimes"
sys.path.insert(0, str(RUNTIMES))
import tfserving_standin  # noqa: E402  pylint: disable=wrong-import-position


def run(capsys, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)), pytest.raises(SystemExit) as code:
        warmup.main()
    return code.value.code, json.loads(capsys.readouterr().out)


def serve(handler, context=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def tf_standin():
    server = serve(tfserving_standin.make_handler("half_plus_two", "1", 0.0))
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


class Recorder(BaseHTTPRequestHandler):
    """Records each request's path and headers; answers 200 with a JSON body."""

    protocol_version = "HTTP/1.1"
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.seen.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return


def test_tf_serving_preset_settles_and_reports_cold_and_warm_latency(capsys, tf_standin):
    code, result = run(capsys, {"url": tf_standin, "protocol": "tf_serving", "model": "half_plus_two",
                                "payload": [[1.0, 2.0], [3.0, 4.0]], "settle_tolerance": 1000, "settle_count": 3})
    assert code == 0 and result["changed"] is False
    assert result["settled"] is True and result["reason"] is None and result["errors"] == 0
    assert result["requests_sent"] == 4  # one cold request, then three within tolerance
    assert len(result["latencies_ms"]) == 4 and result["cold_latency_ms"] == result["latencies_ms"][0]
    assert result["warm_latency_ms"]["window"] == 3
    assert result["request"]["url"] == tf_standin + "/v1/models/half_plus_two:predict"


def test_unsettled_is_reported_and_fails_only_when_asked(capsys, tf_standin):
    args = {"url": tf_standin, "protocol": "tf_serving", "model": "half_plus_two", "payload": [[1.0]],
            "settle_tolerance": 0.0000001, "settle_count": 7, "max_requests": 8}
    code, result = run(capsys, args)
    assert code == 0 and result["settled"] is False and result["requests_sent"] == 8
    assert result["reason"] == "max_requests (8) reached before latency settled"
    code, result = run(capsys, dict(args, fail_if_unsettled=True))
    assert code == 1 and result["msg"].startswith("latency did not settle: max_requests (8)")


def test_server_errors_end_the_warmup_with_the_servers_message(capsys, tf_standin):
    code, result = run(capsys, {"url": tf_standin, "protocol": "tf_serving", "model": "no_such_model",
                                "payload": [[1.0]], "max_errors": 2})
    assert code == 1 and result["requests_sent"] == 3 and result["errors"] == 3
    assert "HTTP 404" in result["msg"] and "Servable not found" in result["msg"]


def test_an_unreachable_url_says_nothing_answered(capsys):
    server = serve(Recorder)
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    code, result = run(capsys, {"url": "http://127.0.0.1:%d" % port, "protocol": "v2", "model": "m", "max_errors": 0,
                                "payload": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]})
    assert code == 1 and result["msg"].startswith("no warmup request succeeded: no answer")


def test_check_mode_sends_nothing(capsys):
    Recorder.seen = []
    server = serve(Recorder)
    url = "http://127.0.0.1:%d" % server.server_address[1]
    code, result = run(capsys, {"url": url, "protocol": "torchserve", "model": "tiny", "payload": {"data": [1]},
                                "secret_headers": {"Authorization": "Bearer s3cr3t-token"}}, check_mode=True)
    server.shutdown()
    assert code == 0 and Recorder.seen == [] and result["requests_sent"] == 0
    assert result["reason"] == "check mode: no request was sent"
    assert result["request"]["url"] == url + "/predictions/tiny"
    assert "s3cr3t-token" not in json.dumps(result) and result["request"]["secret_headers"] == ["Authorization"]


def test_headers_and_secret_headers_are_sent_but_secrets_not_shown(capsys):
    Recorder.seen = []
    server = serve(Recorder)
    url = "http://127.0.0.1:%d" % server.server_address[1]
    code, result = run(capsys, {"url": url, "protocol": "raw", "method": "POST", "path": "/score", "payload": {"x": 1},
                                "headers": {"X-Trace": "warmup"}, "secret_headers": {"Authorization": "Bearer s3cr3t-token"},
                                "settle_tolerance": 1000, "settle_count": 2})
    server.shutdown()
    assert code == 0 and len(Recorder.seen) == 3
    path, headers, body = Recorder.seen[0]
    assert path == "/score" and json.loads(body) == {"x": 1}
    assert headers["Authorization"] == "Bearer s3cr3t-token" and headers["X-Trace"] == "warmup"
    assert headers["Content-Type"] == "application/json"
    assert "s3cr3t-token" not in json.dumps(result)


@pytest.mark.parametrize("args,message", [
    ({"protocol": "v2", "payload": [{"name": "x"}]}, "model is required with protocol=v2"),
    ({"protocol": "v2", "model": "m", "payload": [{"name": "x"}]}, "payload input 0 lacks shape, datatype, data"),
    ({"protocol": "tf_serving", "model": "m", "payload": {"rows": [1]}}, "payload for protocol=tf_serving must be"),
    ({"protocol": "torchserve", "model": "m"}, "payload is required with protocol=torchserve"),
    ({"protocol": "torchserve", "model": "m", "payload": "x", "path": "/p"}, "path is only used with protocol=raw"),
    ({"protocol": "raw", "path": "score", "payload": "x"}, "must start with /"),
    ({"protocol": "raw", "path": "/p", "method": "GET", "payload": "x"}, "payload is set but method is GET"),
    ({"protocol": "kserve_v1", "model": "m", "model_version": "2", "payload": [[1]]}, "KServe V1 protocol has no model versions"),
    ({"protocol": "torchserve", "model": "m", "payload": "x", "settle_count": 5, "max_requests": 5}, "max_requests (5) must exceed"),
    ({"protocol": "torchserve", "model": "m", "payload": "x", "headers": {"authorization": "a"},
      "secret_headers": {"Authorization": "Bearer long-secret"}}, "header(s) authorization given in both"),
])
def test_bad_input_is_refused_before_any_request(capsys, args, message):
    Recorder.seen = []
    server = serve(Recorder)
    code, result = run(capsys, dict({"url": "http://127.0.0.1:%d" % server.server_address[1]}, **args))
    server.shutdown()
    assert code == 1 and message in result["msg"] and Recorder.seen == []


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make test certificates")
    base = tmp_path_factory.mktemp("tls")

    def sh(*args):
        subprocess.run(args, cwd=base, check=True, capture_output=True)

    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
       "-keyout", "ca.key", "-out", "ca.pem")
    for name in ("server", "client"):
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % ("localhost" if name == "server" else name),
           "-keyout", name + ".key", "-out", name + ".csr")
        (base / (name + ".ext")).write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
           "-days", "1", "-extfile", name + ".ext", "-out", name + ".pem")
    return base


def tls_server(certs, require_client_cert):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certs / "server.pem"), str(certs / "server.key"))
    if require_client_cert:
        context.load_verify_locations(str(certs / "ca.pem"))
        context.verify_mode = ssl.CERT_REQUIRED
    return serve(Recorder, context)


def test_tls_needs_the_ca_or_validate_certs_false(capsys, certs):
    server = tls_server(certs, require_client_cert=False)
    base = {"url": "https://127.0.0.1:%d" % server.server_address[1], "protocol": "raw", "path": "/p", "payload": "x",
            "settle_tolerance": 1000, "settle_count": 1, "max_errors": 0}
    code, result = run(capsys, base)
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in result["msg"]
    code, result = run(capsys, dict(base, ca_path=str(certs / "ca.pem")))
    assert code == 0 and result["settled"] is True
    code, result = run(capsys, dict(base, validate_certs=False))
    assert code == 0 and result["settled"] is True
    server.shutdown()


def test_client_certificate_for_mutual_tls(capsys, certs):
    server = tls_server(certs, require_client_cert=True)
    base = {"url": "https://127.0.0.1:%d" % server.server_address[1], "protocol": "raw", "path": "/p", "payload": "x",
            "settle_tolerance": 1000, "settle_count": 1, "max_errors": 0, "ca_path": str(certs / "ca.pem")}
    code, result = run(capsys, base)
    assert code == 1 and result["msg"].startswith("no warmup request succeeded: no answer")
    code, result = run(capsys, dict(base, client_cert=str(certs / "client.pem"), client_key=str(certs / "client.key")))
    assert code == 0 and result["settled"] is True
    server.shutdown()
