"""The node's images (tests/node/images.sh), read back from their OCI archives by this file's own
reader, not oci.py's: digests, sizes, media types, names, the image config, the shared base layer
and the files the pods rely on. No containerd. The images are built once per session (cached
outside the checkout: about a second when nothing changed; building needs root).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IMAGES_SH = HERE / "images.sh"
OCI_PY = HERE / "oci.py"
REFS = {"python": "localhost/inferops/python:3.11-bookworm", "pause": "localhost/inferops/pause:3.10"}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
INDEX = "application/vnd.oci.image.index.v1+json"


def pinned(requirements, package):
    text = (HERE / "images" / requirements).read_text()
    return re.search(r"^%s==(\S+)$" % re.escape(package), text, re.M).group(1)


def pytriton_version():
    return pinned("tritonserver.txt", "nvidia-pytriton")


@pytest.fixture(scope="session")
def images():
    result = subprocess.run([str(IMAGES_SH), "build"], capture_output=True, text=True, check=False)
    if result.returncode == 3:
        # the local cluster's real node needs these images: there, not building them is a failure
        if os.environ.get("INFEROPS_LOCAL_CLUSTER") == "1":
            pytest.fail("images.sh build needs root, and the local cluster's real node needs its images: " + result.stderr.strip())
        pytest.skip("images.sh build needs root: " + result.stderr.strip())
    assert result.returncode == 0, result.stderr
    return json.loads(Path(result.stdout.strip()).read_text())


class Archive:
    """One image's OCI layout archive, read with tarfile and hashlib only."""

    def __init__(self, path):
        self.tar = tarfile.open(path)
        self.members = {member.name: member for member in self.tar.getmembers()}

    def read(self, name):
        return self.tar.extractfile(self.members[name]).read()

    def blob(self, descriptor):
        """The blob a descriptor names, its sha256 and size checked; returns its member name."""
        algorithm, hexdigest = descriptor["digest"].split(":")
        assert algorithm == "sha256"
        name = "blobs/sha256/" + hexdigest
        sha = hashlib.sha256()
        size = 0
        with self.tar.extractfile(self.members[name]) as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                sha.update(block)
                size += len(block)
        assert sha.hexdigest() == hexdigest, name
        assert size == descriptor["size"], name
        return name

    def json_blob(self, descriptor):
        return json.loads(self.read(self.blob(descriptor)))


@pytest.fixture(scope="session")
def archives(images):
    opened = {name: Archive(entry["archive"]) for name, entry in images.items()}
    yield opened
    for archive in opened.values():
        archive.tar.close()


@pytest.fixture(scope="session")
def layouts(images, archives):
    """name -> (index entry, manifest, config), every digest on the way checked."""
    out = {}
    for name, archive in archives.items():
        index = json.loads(archive.read("index.json"))
        assert index["schemaVersion"] == 2 and index["mediaType"] == INDEX
        (entry,) = index["manifests"]
        assert entry["mediaType"] == MANIFEST
        assert entry["digest"] == images[name]["digest"]
        manifest = archive.json_blob(entry)
        assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MANIFEST
        assert manifest["config"]["mediaType"] == CONFIG
        config = archive.json_blob(manifest["config"])
        for layer in manifest["layers"]:
            assert layer["mediaType"] == LAYER
            archive.blob(layer)
        out[name] = entry, manifest, config
    return out


def layer_tar(archive, manifest, index):
    name = "blobs/sha256/" + manifest["layers"][index]["digest"].split(":")[1]
    return tarfile.open(fileobj=archive.tar.extractfile(archive.members[name]))


def test_refs_and_manifest_file(images):
    assert set(images) == {"python", "tritonserver", "kserve-sklearn", "pause"}
    assert images["python"]["ref"] == REFS["python"] and images["pause"]["ref"] == REFS["pause"]
    assert images["tritonserver"]["ref"] == "localhost/inferops/tritonserver:" + pytriton_version()
    assert images["kserve-sklearn"]["ref"] == "localhost/inferops/kserve-sklearn:" + pinned("kserve-sklearn.txt", "kserve")
    for entry in images.values():
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
        assert os.path.isabs(entry["archive"]) and os.path.isfile(entry["archive"])
    listed = subprocess.run([str(IMAGES_SH), "list"], capture_output=True, text=True, check=True).stdout.split("\n")
    assert listed[:4] == ["%s %s@%s" % (name, images[name]["ref"], images[name]["digest"])
                          for name in ("python", "tritonserver", "kserve-sklearn", "pause")]


def test_layout_files(archives):
    for archive in archives.values():
        assert json.loads(archive.read("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        names = [name for name in archive.members if name.startswith("blobs/sha256/")]
        assert all(re.fullmatch(r"blobs/sha256/[0-9a-f]{64}", name) for name in names)


@pytest.mark.parametrize("name", ["python", "tritonserver", "kserve-sklearn", "pause"])
def test_index_names_the_image_for_containerd(images, layouts, name):
    entry = layouts[name][0]
    ref = images[name]["ref"]
    assert entry["annotations"] == {"io.containerd.image.name": ref,
                                    "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]}
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}


@pytest.mark.parametrize("name", ["python", "tritonserver", "kserve-sklearn"])
def test_config(layouts, name):
    manifest, config = layouts[name][1:]
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"] for layer in manifest["layers"]]}
    env = dict(item.split("=", 1) for item in config["config"]["Env"])
    assert env["HOME"] == "/tmp"
    assert config["config"]["User"] == "1000:1000"
    assert config["config"]["WorkingDir"] == "/tmp"
    if name == "tritonserver":
        assert env["PATH"].split(":")[0] == "/opt/site/pytriton/tritonserver/bin"
        assert env["LD_LIBRARY_PATH"] == "/opt/site/nvidia_pytriton.libs"
    if name == "kserve-sklearn":
        # the ServingRuntime's args follow the entrypoint; Cmd would be replaced by them
        assert config["config"]["Entrypoint"] == ["python3", "/opt/inferops/kserve_sklearn.py"]
        assert "Cmd" not in config["config"]
    else:
        assert "Entrypoint" not in config["config"]


def test_pause_image_is_one_static_binary(archives, layouts):
    manifest, config = layouts["pause"][1:]
    assert config["config"]["Cmd"] == ["/pause"] and config["config"]["User"] == "65535:65535"
    with layer_tar(archives["pause"], manifest, 0) as layer:
        (member,) = layer.getmembers()
        assert member.name == "pause" and member.mode & 0o111
        head = layer.extractfile(member).read(64)
    # an ELF executable with no interpreter to find in an empty root: statically linked (no PT_INTERP)
    assert head[:4] == b"\x7fELF"
    with layer_tar(archives["pause"], manifest, 0) as layer:
        assert b"/lib64/ld-linux" not in layer.extractfile("pause").read()


def test_base_layer_shared(layouts):
    python_layers = [layer["digest"] for layer in layouts["python"][1]["layers"]]
    triton_layers = [layer["digest"] for layer in layouts["tritonserver"][1]["layers"]]
    kserve_layers = [layer["digest"] for layer in layouts["kserve-sklearn"][1]["layers"]]
    assert len(python_layers) == 1 and len(triton_layers) == 2 and len(kserve_layers) == 2
    assert triton_layers[0] == python_layers[0] == kserve_layers[0]


def test_base_layer_files(archives, layouts):
    with layer_tar(archives["python"], layouts["python"][1], 0) as layer:
        members = {member.name: member for member in layer.getmembers()}
        passwd = layer.extractfile(members["etc/passwd"]).read().decode()
    assert "inferops:x:1000:1000:" in passwd
    for path in ("usr/bin/python3.11", "usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
                 "usr/lib/x86_64-linux-gnu/libstdc++.so.6", "etc/ssl/certs/ca-certificates.crt",
                 "usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "usr/bin/bash", "usr/bin/setpriv"):
        assert path in members, path
    assert not [name for name, member in members.items() if member.ischr() or member.isblk() or member.isfifo()]
    assert not [name for name in members if name.startswith(("dev/", "var/lib/apt/lists/", "usr/share/man/"))
                and not name.endswith("/partial")]
    # deterministic headers: one mtime, numeric owners only, no pax records, entries in order
    assert {member.mtime for member in members.values()} == {0}
    assert all(member.uname == "" and member.gname == "" and not member.pax_headers for member in members.values())
    names = list(members)
    assert names == sorted(names, key=lambda name: name.split("/"))


def test_pyc_files_need_no_source_mtime(archives, layouts):
    """Every mtime in a layer is 0, so a timestamp-checked .pyc would always be stale: they are unchecked-hash."""
    with layer_tar(archives["python"], layouts["python"][1], 0) as layer:
        header = layer.extractfile("usr/lib/python3.11/__pycache__/os.cpython-311.pyc").read(16)
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked (PEP 552)
    with layer_tar(archives["tritonserver"], layouts["tritonserver"][1], 1) as layer:
        header = layer.extractfile("opt/site/numpy/__pycache__/__init__.cpython-311.pyc").read(16)
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_tritonserver_layer_files(archives, layouts):
    with layer_tar(archives["tritonserver"], layouts["tritonserver"][1], 1) as layer:
        members = {member.name: member for member in layer.getmembers()}
        pth = layer.extractfile(members["usr/local/lib/python3.11/dist-packages/inferops-site.pth"]).read()
    assert pth == b"/opt/site\n"
    backend = "opt/tritonserver/backends/python/"
    for path in (backend + "libtriton_python.so", backend + "triton_python_backend_utils.py",
                 "opt/site/nvidia_pytriton.libs", "opt/site/numpy/__init__.py", "opt/site/onnxruntime/__init__.py"):
        assert path in members, path
    for path in (backend + "triton_python_backend_stub", "opt/site/pytriton/tritonserver/bin/tritonserver"):
        assert members[path].isfile() and members[path].mode & 0o111 == 0o111, path
    assert not [name for name in members if name.startswith("opt/site/bin/")]
    assert {(member.uid, member.gid) for member in members.values()} == {(0, 0)}


def test_kserve_sklearn_layer_files(archives, layouts):
    with layer_tar(archives["kserve-sklearn"], layouts["kserve-sklearn"][1], 1) as layer:
        members = {member.name: member for member in layer.getmembers()}
        pth = layer.extractfile(members["usr/local/lib/python3.11/dist-packages/inferops-site.pth"]).read()
        model = layer.extractfile(members["opt/inferops/kserve_sklearn.py"]).read()
    assert pth == b"/opt/site\n"
    assert model == (HERE.parent / "runtimes" / "models" / "kserve_iris.py").read_bytes()
    for path in ("opt/site/kserve/__init__.py", "opt/site/kserve/__pycache__/__init__.cpython-311.pyc",
                 "opt/site/sklearn/__init__.py", "opt/site/joblib/__init__.py", "opt/site/uvicorn/__init__.py"):
        assert path in members, path
    assert not [name for name in members if name.startswith("opt/site/bin/")]
    assert {(member.uid, member.gid) for member in members.values()} == {(0, 0)}


def run_oci(*args):
    return subprocess.run(["python3", str(OCI_PY), *map(str, args)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_oci_writer_is_deterministic(tmp_path):
    tree = tmp_path / "tree"
    (tree / "b" / "c").mkdir(parents=True)
    (tree / "b" / "c" / "f").write_text("one\n")
    (tree / "a").write_text("two\n")
    (tree / "b" / "link").symlink_to("c/f")
    os.link(tree / "a", tree / "hard")
    first = run_oci("layer", tree, tmp_path / "1.tar")
    os.utime(tree / "a", (1, 1))
    os.utime(tree / "b", (2, 2))
    second = run_oci("layer", tree, tmp_path / "2.tar")
    assert first == second
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    with tarfile.open(tmp_path / "1.tar") as layer:
        members = {member.name: member for member in layer.getmembers()}
    assert members["hard"].islnk() and members["hard"].linkname == "a"
    assert members["b/link"].issym() and members["b/link"].linkname == "c/f"
    image = ["image", "--name", "localhost/t", "--tag", "1", "--layer", tmp_path / "1.tar", "--env", "A=b"]
    assert run_oci(*image, tmp_path / "i1.tar") == run_oci(*image, tmp_path / "i2.tar")
    assert (tmp_path / "i1.tar").read_bytes() == (tmp_path / "i2.tar").read_bytes()


def test_oci_writer_refuses_device_nodes(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "fifo")
    result = subprocess.run(["python3", str(OCI_PY), "layer", str(tree), str(tmp_path / "l.tar")],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "not a file, directory or symlink" in result.stderr
    assert not (tmp_path / "l.tar").exists()
