"""The discovery cache that outlives one module run, against a small discovery server on 127.0.0.1.

The server answers the discovery requests the dynamic client makes (/version, /apis, /api/v1,
/apis/<group>/<version>) and counts them, so each test says how many times discovery was read.
"""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import discovery
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sCrdMissingError


def _resource(name, kind, namespaced=True):
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list", "patch"]}


class _DiscoveryServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.versions = {
            "api/v1": [_resource("configmaps", "ConfigMap"), _resource("namespaces", "Namespace", False)],
            "apis/apps/v1": [_resource("deployments", "Deployment")],
        }
        self.gets = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def serve(self, group_version, resources):
        self.versions["apis/" + group_version] = resources

    def group_list(self):
        groups = []
        for path in sorted(self.versions):
            if path.startswith("apis/"):
                group, version = path[len("apis/"):].split("/")
                gv = {"groupVersion": "%s/%s" % (group, version), "version": version}
                groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def discovery_gets(self):
        return len(self.gets)

    def not_found(self, path):
        """A 404 worded as the API server words it: naming the object when its type is served, else not."""
        status = {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
        for version, resources in self.versions.items():
            for resource in resources:
                prefix = version + "/"
                if path.startswith(prefix) and "/%s/" % resource["name"] in "/" + path[len(prefix):]:
                    name = path.rsplit("/", 1)[1]
                    return dict(status, message='%s "%s" not found' % (resource["name"], name),
                                details={"name": name, "kind": resource["name"]})
        return dict(status, message="the server could not find the requested resource", details={})


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        path = self.path.split("?")[0].strip("/")
        self.server.gets.append("/" + path)
        if path == "version":
            body = {"major": "1", "minor": "36", "gitVersion": "v1.36.0"}
        elif path == "apis":
            body = self.server.group_list()
        elif path == "api":
            body = {"kind": "APIVersions", "versions": ["v1"]}
        elif path in self.server.versions:
            body = {"kind": "APIResourceList", "groupVersion": path.split("/", 1)[1] if path.startswith("apis/") else "v1",
                    "resources": self.server.versions[path]}
        else:
            self._send(404, self.server.not_found(path))
            return
        self._send(200, body)

    def _send(self, status, body):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet."""


@pytest.fixture
def server():
    srv = _DiscoveryServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """XDG_CACHE_HOME in the test's own directory, and a process that has not warned yet."""
    monkeypatch.delenv(discovery.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(discovery, "_WARNED", set())
    return tmp_path / "cache" / "inferops-kubernetes" / "discovery"


class _Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def _client(server, clock=None, warnings=None, **params):
    params.setdefault("host", server.url)
    return K8sClient(params, warn=None if warnings is None else warnings.append, clock=clock or _Clock())


def _cache_files(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def test_the_cache_is_a_private_directory_under_the_users_cache_home(server, cache_home):
    _client(server).resource("apps/v1", "Deployment")
    info = os.stat(cache_home)
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()
    [name] = _cache_files(cache_home)
    assert stat.S_IMODE(os.stat(cache_home / name).st_mode) & 0o077 == 0


def test_a_second_client_reads_no_discovery(server, cache_home):
    clock = _Clock()
    assert _client(server, clock).resource("apps/v1", "Deployment").kind == "Deployment"
    first = server.discovery_gets()
    assert first > 0
    again = _client(server, clock)
    assert again.resource("apps/v1", "Deployment").kind == "Deployment"
    assert again.resource("v1", "ConfigMap").namespaced is True
    assert server.discovery_gets() == first + 1  # /api/v1 was never asked for before; nothing else is read again
    _client(server, clock).resource("v1", "ConfigMap")
    assert server.discovery_gets() == first + 1


def test_a_core_kind_is_looked_up_in_the_core_group_only(server, cache_home):
    for group in ("batch", "policy", "example.com"):
        server.serve(group + "/v1", [_resource("things", "Thing")])
    client = _client(server)
    assert client.resource("v1", "ConfigMap").group == ""
    # the core group's resources, and no other group's v1 list (the library alone would read all of them)
    assert [path for path in server.gets if path.endswith("/v1")] == ["/api/v1"]
    assert client.resource("batch/v1", "Thing").group == "batch"


def test_one_cache_file_per_server_and_per_identity(server, cache_home, tmp_path):
    other = _DiscoveryServer()
    thread = threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        _client(server, api_key="token-of-alice").resource("apps/v1", "Deployment")
        _client(server, api_key="token-of-bob").resource("apps/v1", "Deployment")
        _client(other, api_key="token-of-alice").resource("apps/v1", "Deployment")
        _client(server, api_key="token-of-alice", context=None).resource("apps/v1", "Deployment")
    finally:
        other.shutdown()
        other.server_close()
    files = _cache_files(cache_home)
    assert len(files) == 3
    for name in files:
        assert "token" not in name
        assert "token-of" not in (cache_home / name).read_text()


def test_a_kind_missing_from_the_cache_reads_discovery_again_once(server, cache_home):
    clock = _Clock()
    _client(server, clock).resource("apps/v1", "Deployment")
    server.serve("example.com/v1", [_resource("widgets", "Widget")])  # a CRD installed since
    before = server.gets.count("/apis")
    assert _client(server, clock).resource("example.com/v1", "Widget").kind == "Widget"
    assert server.gets.count("/apis") == before + 1
    gets = server.discovery_gets()
    _client(server, clock).resource("example.com/v1", "Widget")  # the re-read went into the cache
    assert server.discovery_gets() == gets


def test_a_kind_the_server_does_not_serve_is_still_reported_missing(server, cache_home):
    _client(server).resource("apps/v1", "Deployment")
    before = server.gets.count("/apis")
    with pytest.raises(K8sCrdMissingError):
        _client(server).resource("nvidia.com/v1", "ClusterPolicy")
    assert server.gets.count("/apis") == before + 1


def test_the_cache_expires_after_the_ttl(server, cache_home):
    clock = _Clock(1000.0)
    _client(server, clock).resource("apps/v1", "Deployment")
    before = server.gets.count("/apis")
    clock.now = 1000.0 + discovery.DISCOVERY_CACHE_TTL - 1
    _client(server, clock).resource("apps/v1", "Deployment")
    assert server.gets.count("/apis") == before
    clock.now = 1000.0 + discovery.DISCOVERY_CACHE_TTL + 1
    _client(server, clock).resource("apps/v1", "Deployment")
    assert server.gets.count("/apis") == before + 1


def test_adding_a_group_version_later_does_not_make_the_cache_younger(server, cache_home):
    clock = _Clock(1000.0)
    _client(server, clock).resource("apps/v1", "Deployment")
    clock.now += discovery.DISCOVERY_CACHE_TTL - 1
    _client(server, clock).resource("v1", "ConfigMap")  # writes the file again, with /api/v1 added
    before = server.gets.count("/apis")
    clock.now += 2
    _client(server, clock).resource("v1", "ConfigMap")
    assert server.gets.count("/apis") == before + 1


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777], ids=["0770", "0707", "0777"])
def test_a_directory_others_may_write_is_not_used(server, cache_home, mode):
    cache_home.mkdir(parents=True)
    os.chmod(cache_home, mode)
    warnings = []
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    first = server.discovery_gets()
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    assert server.discovery_gets() == 2 * first  # read afresh by each client
    assert _cache_files(cache_home) == []
    assert _mode(cache_home) == mode  # not this module's to fix
    assert len(warnings) == 1
    assert "group or others may write it (mode %04o)" % mode in warnings[0]
    assert str(cache_home) in warnings[0] and discovery.CACHE_DIR_ENV in warnings[0]


def test_a_directory_of_another_user_is_not_used(server, cache_home, monkeypatch):
    cache_home.mkdir(parents=True, mode=0o700)
    if os.geteuid() == 0:
        os.chown(cache_home, 4242, 4242)
    else:  # only root can give a directory away: this process then believes it is someone else
        real = os.geteuid()
        monkeypatch.setattr(discovery.os, "geteuid", lambda: real + 1)
    warnings = []
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    assert _cache_files(cache_home) == []
    assert len(warnings) == 1 and "not by this user" in warnings[0]


def test_an_empty_setting_turns_the_cache_off_without_a_warning(server, cache_home, monkeypatch):
    monkeypatch.setenv(discovery.CACHE_DIR_ENV, "")
    warnings = []
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    first = server.discovery_gets()
    _client(server, warnings=warnings).resource("apps/v1", "Deployment")
    assert server.discovery_gets() == 2 * first
    assert not cache_home.exists() and warnings == []


def test_the_setting_points_the_cache_elsewhere(server, cache_home, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "discovery"
    monkeypatch.setenv(discovery.CACHE_DIR_ENV, str(elsewhere))
    _client(server).resource("apps/v1", "Deployment")
    assert len(_cache_files(elsewhere)) == 1 and _mode(elsewhere) == 0o700
    assert not cache_home.exists()


def test_the_cache_file_is_replaced_whole_never_rewritten_in_place(server, cache_home):
    """A reader that opened the file before a write still reads the whole old file: the new one is written
    beside it and renamed over it, so concurrent module runs never see half a file."""
    _client(server).resource("apps/v1", "Deployment")
    [name] = _cache_files(cache_home)
    path = cache_home / name
    path.write_text(json.dumps({"library_version": "0.0.0-old"}))  # the client reads it, and discovers again
    with open(path) as reader:
        _client(server).resource("apps/v1", "Deployment")
        assert json.load(reader) == {"library_version": "0.0.0-old"}
    assert json.loads(path.read_text())["library_version"] != "0.0.0-old"
    assert _cache_files(cache_home) == [name]  # no temporary file left behind


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(server, cache_home, monkeypatch):
    _client(server).resource("apps/v1", "Deployment")
    [name] = _cache_files(cache_home)
    old = (cache_home / name).read_text()

    def broken(*args, **kwargs):
        raise TypeError("not serializable")

    monkeypatch.setattr(discovery.json, "dump", broken)
    clock = _Clock(1000.0 + discovery.DISCOVERY_CACHE_TTL + 1)  # expired: discovery is read and written again
    assert _client(server, clock).resource("apps/v1", "Deployment").kind == "Deployment"
    assert (cache_home / name).read_text() == old
    assert _cache_files(cache_home) == [name]


def test_a_kind_whose_crd_was_deleted_since_discovery_was_cached_is_reported_missing(server, cache_home):
    widget = [_resource("widgets", "Widget")]
    server.serve("example.com/v1", widget)
    assert _client(server).get("example.com/v1", "Widget", "w", "ns") is None  # served: that object is not there
    del server.versions["apis/example.com/v1"]  # the CRD is deleted; the cache still lists its kind
    with pytest.raises(K8sCrdMissingError) as err:
        _client(server).get("example.com/v1", "Widget", "w", "ns")
    assert "example.com/v1 Widget" in err.value.msg
    # a missing object of a served kind is still just missing, with no discovery read for it
    before = server.gets.count("/apis")
    assert _client(server).get("v1", "ConfigMap", "nope", "ns") is None
    assert server.gets.count("/apis") == before
