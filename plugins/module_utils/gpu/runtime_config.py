# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVIDIA container runtime in containerd's and CRI-O's configuration, edited as TOML documents.

tomlkit keeps comments, order and quoting of everything it does not touch, so the file an
administrator (or the distribution) wrote stays theirs; only the runtime's own table and,
when asked, the default runtime change.
"""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError

try:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    HAS_TOMLKIT = True
except ImportError:
    HAS_TOMLKIT = False

# containerd's CRI plugin moved between config versions; version 1 (containerd < 1.5) is not supported.
CONTAINERD_CRI = {
    2: ("plugins", "io.containerd.grpc.v1.cri", "containerd"),
    3: ("plugins", "io.containerd.cri.v1.runtime", "containerd"),
}


class RuntimeConfigError(InferopsError):
    """A configuration this module cannot edit safely, with the reason."""


def _parse(text, path):
    try:
        return tomlkit.parse(text or "")
    except TOMLKitError as exc:
        raise RuntimeConfigError("%s is not valid TOML (%s); fix or remove it first" % (path, exc))


def _table(parent, key):
    """parent[key] as a table, created (as a super table where it only holds tables) if missing."""
    if key not in parent:
        parent[key] = tomlkit.table()
    value = parent[key]
    if not isinstance(value, dict):
        raise RuntimeConfigError("%s is not a table (it holds a %s); fix the file first" % (key, type(value).__name__))
    return value


def configure_containerd(text, path, runtime_name, binary_path, set_as_default):
    """containerd's config.toml with the NVIDIA runtime; returns (new text, config version)."""
    doc = _parse(text, path)
    version = doc.get("version", 1 if doc else 2)
    if version not in CONTAINERD_CRI:
        raise RuntimeConfigError(
            "%s has config version %s; only versions 2 (containerd 1.5 to 1.7) and 3 (containerd 2.x) are supported. "
            "Migrate it with `containerd config migrate`." % (path, version))
    if "version" not in doc:
        doc["version"] = version
    node = doc
    for key in CONTAINERD_CRI[version]:
        node = _table(node, key)
    runtimes = _table(node, "runtimes")
    runc_options = (runtimes.get("runc") or {}).get("options") or {}
    nvidia = _table(runtimes, runtime_name)
    nvidia["runtime_type"] = "io.containerd.runc.v2"
    options = _table(nvidia, "options")
    options["BinaryName"] = binary_path
    # the NVIDIA runtime wraps runc: it must use the same cgroup driver as runc does here
    if "SystemdCgroup" in runc_options:
        options["SystemdCgroup"] = bool(runc_options["SystemdCgroup"])
    if set_as_default:
        node["default_runtime_name"] = runtime_name
    elif node.get("default_runtime_name") == runtime_name:
        node["default_runtime_name"] = "runc"
    return tomlkit.dumps(doc), version


def configure_crio(text, path, runtime_name, binary_path, set_as_default):
    """A CRI-O drop-in (crio.conf.d) with the NVIDIA runtime; returns (new text, None)."""
    doc = _parse(text, path)
    runtime = _table(_table(doc, "crio"), "runtime")
    entry = _table(_table(runtime, "runtimes"), runtime_name)
    entry["runtime_path"] = binary_path
    entry["runtime_type"] = "oci"
    if set_as_default:
        runtime["default_runtime"] = runtime_name
    elif runtime.get("default_runtime") == runtime_name:
        del runtime["default_runtime"]
    return tomlkit.dumps(doc), None


CONFIGURE = {"containerd": configure_containerd, "crio": configure_crio}
DEFAULT_PATHS = {"containerd": "/etc/containerd/config.toml", "crio": "/etc/crio/crio.conf.d/99-nvidia.toml"}
