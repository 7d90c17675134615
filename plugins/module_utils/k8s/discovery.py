# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the dynamic client keeps API discovery, so that one module run reuses what the last one read.

Without a cache that outlives the process every module run reads discovery afresh: dozens of GETs
(one per API group version it looks into) before its first real request. The cache lives in a
directory private to the user, `$XDG_CACHE_HOME/inferops-kubernetes/discovery` (`~/.cache/...`
without XDG_CACHE_HOME), or in `$INFEROPS_DISCOVERY_CACHE_DIR`; set that variable empty to turn the
cache off. One file per API server and identity: its name is a SHA-256 of the server URL, the
context, the CA and client certificates and the token or password, so no secret is ever written
out in clear. A file is read again from the server when a kind is not found in it (the dynamic
client's own rule), and when it is older than DISCOVERY_CACHE_TTL.

A directory that another user owns, or that group or others may write, could hand this process
forged discovery (where to send a Secret); it is not used: discovery then goes into a private
temporary file of this process, as without the cache, and the module warns once.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from typing import Any, Callable, Optional, Set, Tuple

try:
    from kubernetes.dynamic.discovery import CacheEncoder, LazyDiscoverer
except ImportError:  # client.py reports the missing library before anything here runs
    CacheEncoder = LazyDiscoverer = object

# Ten minutes: long enough that the tasks of one play (or of a few plays in a row) share one
# discovery, short enough that an API group version removed from the cluster (a CRD deleted, an
# aggregated API gone) stops being believed in soon. Kinds added to the cluster need no wait:
# a kind missing from the cache makes the client read discovery again at once.
DISCOVERY_CACHE_TTL = 600.0

CACHE_DIR_ENV = "INFEROPS_DISCOVERY_CACHE_DIR"

# The time of the full discovery a cache file holds, kept inside it: the file's mtime moves each
# time a further API group version is added to it, which must not make the group list younger.
_DISCOVERED_AT = "inferops_discovered_at"

# One warning per process about an unusable directory, however many clients a module makes.
_WARNED: Set[str] = set()

Warn = Callable[[str], None]
Clock = Callable[[], float]


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/inferops-kubernetes/discovery, or ~/.cache/... (a relative XDG_CACHE_HOME is invalid: ignored)."""
    home = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(home):
        home = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(home, "inferops-kubernetes", "discovery")


def cache_dir_setting() -> Optional[str]:
    """The directory asked for: INFEROPS_DISCOVERY_CACHE_DIR, else the default; None when the variable is set empty."""
    value = os.environ.get(CACHE_DIR_ENV)
    if value is None:
        return default_cache_dir()
    if not value.strip():
        return None
    return os.path.abspath(os.path.expanduser(value))


def unsafe_reason(path: str) -> Optional[str]:
    """Why the directory may not hold the cache, or None when only this user can write it."""
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.geteuid():
        return "it is owned by uid %d, not by this user (uid %d)" % (info.st_uid, os.geteuid())
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "group or others may write it (mode %04o)" % stat.S_IMODE(info.st_mode)
    return None


def private_dir(path: str) -> Optional[str]:
    """Make the directory (mode 0700) if it is missing; return why it cannot be used, or None.

    An existing directory is never changed: one this user does not own is not this module's to fix."""
    try:
        if not os.path.lexists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                os.mkdir(path, 0o700)
                os.chmod(path, 0o700)  # ours, just made: the umask may have taken bits away, never added
            except FileExistsError:
                pass  # another fork of the same play made it a moment ago: checked below like any other
        return unsafe_reason(path)
    except OSError as exc:
        return "it cannot be made or read: %s" % (exc.strerror or exc)


def _file_digest(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return "unreadable %s" % path


def cache_key(configuration: Any, context: Optional[str]) -> str:
    """A SHA-256 naming the API server and the identity used on it; secrets go into it only through the hash.

    Certificates count by content, not path: the kubeconfig loader writes inline certificate data to a new
    temporary file in every process. The CA is part of it, so a local cluster made anew at the same address
    does not inherit the last one's discovery."""
    api_key = getattr(configuration, "api_key", None) or {}
    identity = {
        "server": configuration.host,
        "context": context,
        "ca": _file_digest(getattr(configuration, "ssl_ca_cert", None)),
        "client_cert": _file_digest(getattr(configuration, "cert_file", None)),
        "api_key": sorted((str(k), str(v)) for k, v in api_key.items()),
        "username": getattr(configuration, "username", None),
        "password": getattr(configuration, "password", None),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


def process_cache_file() -> str:
    """A cache file in a private temporary directory of this process, removed at exit: discovery read once per run."""
    tmp = tempfile.mkdtemp(prefix="inferops-discovery-")
    atexit.register(shutil.rmtree, tmp, True)
    return os.path.join(tmp, "discovery.json")


def _prune(directory: str, ttl: float) -> None:
    """Drop cache files (and temporary files of killed writers) untouched for longer than the TTL: stale anyway.

    A file's discovery is never younger than its mtime, so whatever this removes no reader would have believed."""
    now = time.time()  # mtimes are wall-clock times, whatever clock the caller was given
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        try:
            if now - os.lstat(path).st_mtime > ttl:
                os.unlink(path)
        except OSError:
            pass  # gone already, or another run's: either way not worth failing a module for


class _SharedDiscoverer(LazyDiscoverer):  # type: ignore[misc]  # the kubernetes client is untyped (Any)
    """The client's LazyDiscoverer on a cache file that other processes share: written atomically, too old is re-read.

    The library writes its cache file in place, so a concurrent fork of the same play could read half of it."""

    def __init__(self, client: Any, cache_file: str, ttl: float = DISCOVERY_CACHE_TTL, clock: Clock = time.time) -> None:
        # set before the library's __init__, which already reads and may write the file
        self._shared_file = cache_file
        self._ttl = ttl
        self._clock = clock
        LazyDiscoverer.__init__(self, client, cache_file)
        discovered_at = self._cache.get(_DISCOVERED_AT)
        if not isinstance(discovered_at, (int, float)) or not 0 <= self._clock() - discovered_at < self._ttl:
            self.invalidate_cache()

    def _write_cache(self) -> None:
        now = self._clock()
        fresh = _DISCOVERED_AT not in self._cache  # the library starts a new dict for every full discovery
        self._cache.setdefault(_DISCOVERED_AT, now)
        directory = os.path.dirname(self._shared_file)
        try:
            handle, tmp = tempfile.mkstemp(dir=directory, prefix=".writing-", suffix=".json")
            try:
                with os.fdopen(handle, "w") as out:
                    json.dump(self._cache, out, cls=CacheEncoder)
                os.replace(tmp, self._shared_file)
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, TypeError, ValueError):
            return  # as in the library: a cache that cannot be written costs time, not the run
        if fresh:
            _prune(directory, self._ttl)


def discovery_cache(configuration: Any, context: Optional[str], warn: Optional[Warn] = None,
                    clock: Clock = time.time) -> Tuple[str, Optional[Callable[..., Any]]]:
    """The cache file and discoverer for a DynamicClient: (path, discoverer), discoverer None for the library's own."""
    directory = cache_dir_setting()
    if directory is None:
        return process_cache_file(), None
    reason = private_dir(directory)
    if reason is not None:
        message = ("Discovery cache %s is not used: %s. API discovery is read afresh in this run. Use a directory "
                   "only you can write, or set %s to another one (empty turns the cache off)." % (directory, reason, CACHE_DIR_ENV))
        if warn is not None and message not in _WARNED:
            _WARNED.add(message)
            warn(message)
        return process_cache_file(), None
    path = os.path.join(directory, cache_key(configuration, context) + ".json")

    def discoverer(client: Any, cache_file: str) -> Any:
        return _SharedDiscoverer(client, cache_file, clock=clock)

    return path, discoverer
