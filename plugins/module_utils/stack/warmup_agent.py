# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Warmup sidecar agent: readiness of a serving pod gated on a warm serving process.

Runs as the ``warmup`` container beside a serving container that has no native warmup
(TF Serving, TorchServe, KServe predictors). It waits until the server's health URL answers,
sends ``count`` successful warmup requests to it over localhost, and only then answers
``GET /ready`` with 200. When the health URL stops answering (the serving container restarted,
so its new process is cold), ``/ready`` goes back to 503 until the new process is warmed again.
The pod's readinessProbe on ``/ready`` therefore keeps traffic away from a cold process.

An initContainer cannot do this: it would warm a process that exits before the server starts.

Standard library only, Python 3.8+: the stack builder ships this file's source in a ConfigMap and
the sidecar runs it with a plain ``python3`` image:

    python3 warmup_agent.py --config /opt/inferops/warmup/warmup.json
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULTS = {
    "listen_host": "0.0.0.0",
    "listen_port": 8099,
    "count": 10,
    "poll_interval_s": 1.0,
    "request_timeout_s": 10.0,
}
TOP_KEYS = ("listen_host", "listen_port", "health_url", "count", "poll_interval_s", "request_timeout_s", "request")
REQUEST_KEYS = ("method", "url", "headers", "body")
METHODS = ("GET", "POST", "PUT")

WAITING = "waiting_for_health"
WARMING = "warming"
WARM = "warm"


class ConfigError(ValueError):
    """A warmup.json that the agent cannot run with; the message names the field and the fix."""


def _url(value, field):
    if not isinstance(value, str) or not value:
        raise ConfigError("%s must be a non-empty string (an http:// or https:// URL)" % field)
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError("%s must be an http:// or https:// URL with a host, got %r" % (field, value))
    return value


def _int(value, field, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("%s must be a whole number from %d to %d, got %r" % (field, low, high, value))
    return value


def _positive(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError("%s must be a number of seconds above 0, got %r" % (field, value))
    return float(value)


def validate_config(data):
    """Return the complete configuration (defaults filled in) or raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object")
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ConfigError("unknown key(s) %s; known keys: %s" % (", ".join(unknown), ", ".join(TOP_KEYS)))
    config = dict(DEFAULTS)
    config.update(data)
    if not isinstance(config["listen_host"], str) or not config["listen_host"]:
        raise ConfigError("listen_host must be a non-empty string")
    config["listen_port"] = _int(config["listen_port"], "listen_port", 1, 65535)
    if "health_url" not in data:
        raise ConfigError("health_url is required: the serving process's health or model status URL on localhost")
    config["health_url"] = _url(config["health_url"], "health_url")
    config["count"] = _int(config["count"], "count", 1, 100000)
    config["poll_interval_s"] = _positive(config["poll_interval_s"], "poll_interval_s")
    config["request_timeout_s"] = _positive(config["request_timeout_s"], "request_timeout_s")

    request = data.get("request")
    if not isinstance(request, dict):
        raise ConfigError("request is required: an object with method, url, headers and body of one warmup request")
    unknown = sorted(set(request) - set(REQUEST_KEYS))
    if unknown:
        raise ConfigError("unknown key(s) in request: %s; known keys: %s" % (", ".join(unknown), ", ".join(REQUEST_KEYS)))
    method = request.get("method", "POST")
    if method not in METHODS:
        raise ConfigError("request.method must be one of %s, got %r" % (", ".join(METHODS), method))
    headers = request.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError("request.headers must be an object of string names to string values")
    body = request.get("body", "")
    if not isinstance(body, str):
        raise ConfigError("request.body must be a string (the JSON payload already encoded), got %s" % type(body).__name__)
    if body and method == "GET":
        raise ConfigError("request.body is set but request.method is GET; use POST or PUT to send a body")
    config["request"] = {
        "method": method,
        "url": _url(request.get("url"), "request.url"),
        "headers": dict(headers),
        "body": body,
    }
    return config


def load_config(path):
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError("cannot read %s: %s" % (path, exc))
    return validate_config(data)


# The server is on localhost: an HTTP(S)_PROXY in the pod's environment must not reroute these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(url, timeout, method="GET", headers=None, body=None):
    """One HTTP request; returns the status code, or None when nothing answered."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class WarmupAgent:
    """The warmup state machine; ``serve`` adds the /ready endpoint around it."""

    def __init__(self, config, call=_call, sleep=time.sleep, log=None):
        self.config = config
        self._call = call
        self._sleep = sleep
        self._log = log or (lambda line: sys.stderr.write(line + "\n"))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.state = WAITING
        self.sent = 0
        self.failed = 0
        self.warmups = 0

    def status(self):
        with self._lock:
            return {"ready": self.state == WARM, "state": self.state, "sent": self.sent,
                    "failed": self.failed, "count": self.config["count"], "warmups_completed": self.warmups}

    def _set(self, state, sent=None):
        with self._lock:
            if state != self.state:
                self._log("warmup agent: %s -> %s" % (self.state, state))
            self.state = state
            if sent is not None:
                self.sent = sent
                self.failed = 0

    def _healthy(self):
        status = self._call(self.config["health_url"], self.config["request_timeout_s"])
        return status is not None and 200 <= status < 300

    def _warm_request(self):
        request = self.config["request"]
        body = request["body"].encode("utf-8") if request["body"] else None
        status = self._call(request["url"], self.config["request_timeout_s"], request["method"], request["headers"], body)
        return status is not None and 200 <= status < 300, status

    def step(self):
        """Advance the state machine by one action (one health poll or one warmup request)."""
        if self.state == WAITING:
            if self._healthy():
                self._set(WARMING, sent=0)
                return
            self._sleep(self.config["poll_interval_s"])
        elif self.state == WARMING:
            ok, status = self._warm_request()
            if ok:
                with self._lock:
                    self.sent += 1
                    done = self.sent >= self.config["count"]
                if done:
                    with self._lock:
                        self.warmups += 1
                    self._set(WARM)
                return
            with self._lock:
                self.failed += 1
            # A failed warmup request on a server that is still healthy means a bad sample request;
            # it is logged and retried. A server that stopped answering starts over from health.
            if not self._healthy():
                self._set(WAITING, sent=0)
                return
            self._log("warmup agent: warmup request answered %s; retrying" % status)
            self._sleep(self.config["poll_interval_s"])
        else:
            if not self._healthy():
                self._set(WAITING, sent=0)
                return
            self._sleep(self.config["poll_interval_s"])

    def run(self):
        while not self._stop.is_set():
            self.step()

    def stop(self):
        self._stop.set()


def _handler(agent):
    class ReadyHandler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/ready":
                status = agent.status()
                code = 200 if status["ready"] else 503
            elif path == "/healthz":
                status, code = {"alive": True}, 200
            else:
                status, code = {"error": "not found; the agent serves /ready and /healthz"}, 404
            payload = json.dumps(status).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return  # probes every few seconds would flood the container log

    return ReadyHandler


def serve(config):
    agent = WarmupAgent(config)
    server = ThreadingHTTPServer((config["listen_host"], config["listen_port"]), _handler(agent))
    server.daemon_threads = True
    worker = threading.Thread(target=agent.run, name="warmup", daemon=True)

    def _shutdown(signum, frame):
        agent.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    worker.start()
    sys.stderr.write("warmup agent: serving /ready on %s:%d, warming %s\n"
                     % (config["listen_host"], config["listen_port"], config["request"]["url"]))
    server.serve_forever()
    server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Gate pod readiness on a warm serving process.")
    parser.add_argument("--config", required=True, help="path of warmup.json")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write("warmup agent: invalid configuration: %s\n" % exc)
        return 2
    serve(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
