"""The NVIDIA runtime in containerd and CRI-O configuration, on real default configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.runtime_config import (
    RuntimeConfigError,
    configure_containerd,
    configure_crio,
)

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "containerd"
V2 = (FIXTURES / "config-v2-containerd-1.6.20.toml").read_text()
V3 = (FIXTURES / "config-v3-containerd-2.1.4.toml").read_text()
BIN = "/usr/bin/nvidia-container-runtime"


def cri(doc, version):
    plugin = "io.containerd.grpc.v1.cri" if version == 2 else "io.containerd.cri.v1.runtime"
    return doc["plugins"][plugin]["containerd"]


def test_containerd_v2_default_gets_the_runtime_and_keeps_everything_else():
    after, version = configure_containerd(V2, "config.toml", "nvidia", BIN, False)
    assert version == 2
    doc = tomlkit.parse(after)
    nvidia = cri(doc, 2)["runtimes"]["nvidia"]
    assert nvidia["runtime_type"] == "io.containerd.runc.v2"
    assert nvidia["options"]["BinaryName"] == BIN
    assert nvidia["options"]["SystemdCgroup"] is False  # as runc's, in this file
    assert cri(doc, 2)["default_runtime_name"] == "runc"
    before_lines = V2.splitlines()
    assert all(line in after.splitlines() for line in before_lines if "default_runtime_name" not in line)
    assert configure_containerd(after, "config.toml", "nvidia", BIN, False)[0] == after  # a second run changes nothing


def test_containerd_v3_default_of_containerd_2():
    after, version = configure_containerd(V3, "config.toml", "nvidia", BIN, True)
    assert version == 3
    table = cri(tomlkit.parse(after), 3)
    assert table["default_runtime_name"] == "nvidia"
    assert table["runtimes"]["nvidia"]["options"]["BinaryName"] == BIN
    assert "SystemdCgroup" not in table["runtimes"]["nvidia"]["options"]  # runc sets none here: nor does nvidia
    # containerd 2 keeps a grpc.v1.cri table for the CRI server itself; the runtime must not land there
    assert "containerd" not in tomlkit.parse(after)["plugins"]["io.containerd.grpc.v1.cri"]
    assert configure_containerd(after, "config.toml", "nvidia", BIN, True)[0] == after


def test_containerd_default_runtime_and_back():
    with_default, _version = configure_containerd(V2, "c", "nvidia", BIN, True)
    assert cri(tomlkit.parse(with_default), 2)["default_runtime_name"] == "nvidia"
    back, _version = configure_containerd(with_default, "c", "nvidia", BIN, False)
    assert cri(tomlkit.parse(back), 2)["default_runtime_name"] == "runc"


def test_systemd_cgroup_follows_runc():
    text = V2.replace("SystemdCgroup = false", "SystemdCgroup = true")
    after, _version = configure_containerd(text, "c", "nvidia", BIN, False)
    assert cri(tomlkit.parse(after), 2)["runtimes"]["nvidia"]["options"]["SystemdCgroup"] is True


def test_missing_or_empty_config_becomes_version_2():
    after, version = configure_containerd("", "c", "nvidia", BIN, True)
    doc = tomlkit.parse(after)
    assert version == 2 and doc["version"] == 2
    assert cri(doc, 2)["default_runtime_name"] == "nvidia"


def test_comments_survive():
    text = "# managed by the platform team\nversion = 2\n\n[plugins]\n  # keep this\n"
    after, _version = configure_containerd(text, "c", "nvidia", BIN, False)
    assert "# managed by the platform team" in after and "# keep this" in after


@pytest.mark.parametrize("text, message", [
    ("version = 1\n[plugins.cri]\n", "config version 1; only versions 2 (containerd 1.5 to 1.7) and 3"),
    ("[plugins.cri]\nsystemd_cgroup = true\n", "config version 1"),
    ("version = 2\n[plugins\n", "is not valid TOML"),
    ("version = 2\nplugins = 3\n", "plugins is not a table (it holds a Integer)"),
])
def test_refused_configs(text, message):
    with pytest.raises(RuntimeConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        configure_containerd(text, "/etc/containerd/config.toml", "nvidia", BIN, False)


def test_crio_drop_in():
    after, version = configure_crio("", "99-nvidia.toml", "nvidia", BIN, True)
    doc = tomlkit.parse(after)
    assert version is None
    assert doc["crio"]["runtime"]["runtimes"]["nvidia"] == {"runtime_path": BIN, "runtime_type": "oci"}
    assert doc["crio"]["runtime"]["default_runtime"] == "nvidia"
    plain, _version = configure_crio(after, "99-nvidia.toml", "nvidia", BIN, False)
    assert "default_runtime" not in tomlkit.parse(plain)["crio"]["runtime"]
    assert configure_crio(plain, "99-nvidia.toml", "nvidia", BIN, False)[0] == plain
