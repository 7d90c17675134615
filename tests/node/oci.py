"""A small writer of OCI image layouts, for images built without Docker or a registry.

    python3 oci.py layer DIR OUT.tar
        DIR as one uncompressed layer tar; prints "sha256:<hex> <size>" (its digest, which for an
        uncompressed layer is also its diff_id).
    python3 oci.py image OUT.tar --name REPO --tag TAG --layer L1.tar [--layer L2.tar ...]
                         [--env K=V ...] [--workdir DIR] [--user UID:GID] [--cmd JSON_LIST]
        one OCI image layout (oci-layout, index.json, blobs/sha256/...) as a tar archive, for
        `ctr -n k8s.io images import OUT.tar`; prints the manifest digest.

Everything it writes is deterministic: entries sorted, every mtime the same (--mtime, default 0),
owners numeric without names, GNU tar headers (no pax records, so no timestamps besides mtime),
JSON with sorted keys. The same inputs give the same bytes, so the same digests, and a layer
shared by two images is one blob in containerd. Layers are left uncompressed
(application/vnd.oci.image.layer.v1.tar): gzip would cost more CPU than the import saves here.

A layer keeps each file's mode, uid and gid (a Debian root has a few files owned by groups
like shadow), its symlinks, and hard links inside DIR as hard links. Device nodes, fifos and
sockets are refused: a container gets its /dev from the runtime.

Standard library only (tarfile, hashlib, json): it runs with any python3 on PATH.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import sys
import tarfile

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CHUNK = 1 << 20


class HashingWriter:
    """A file object that hashes and counts what passes through it."""

    def __init__(self, raw):
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def tell(self):
        return self.size


def _walk_under(top, rel):
    """Every path under top/rel, relative to top: parents before children, names in byte order."""
    for name in sorted(os.listdir(os.path.join(top, rel)), key=os.fsencode):
        child = os.path.join(rel, name)
        yield child
        full = os.path.join(top, child)
        if os.path.isdir(full) and not os.path.islink(full):
            yield from _walk_under(top, child)


def _info(name, st, mtime):
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = mtime
    return info


def write_layer(top, out, mtime=0):
    """Write the tree under top as a layer tar to out; return (digest, size)."""
    part = out + ".part"
    try:
        digest, size = _write_layer(top, part, mtime)
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    os.replace(part, out)
    return digest, size


def _write_layer(top, part, mtime):
    seen = {}
    with open(part, "wb") as raw:
        sink = HashingWriter(raw)
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for rel in _walk_under(top, ""):
                full = os.path.join(top, rel)
                st = os.lstat(full)
                info = _info(rel, st, mtime)
                if stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif stat.S_ISLNK(st.st_mode):
                    info.type = tarfile.SYMTYPE
                    info.linkname = os.readlink(full)
                    tar.addfile(info)
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in seen:
                        info.type = tarfile.LNKTYPE
                        info.linkname = seen[key]
                        tar.addfile(info)
                        continue
                    seen[key] = rel
                    info.size = st.st_size
                    with open(full, "rb") as data:
                        tar.addfile(info, data)
                else:
                    raise SystemExit("oci.py: %s is not a file, directory or symlink (mode %o): not put in a layer"
                                     % (full, st.st_mode))
        raw.flush()
        os.fsync(raw.fileno())
    return "sha256:" + sink.sha.hexdigest(), sink.size


def _file_digest(path):
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            sha.update(block)
            size += len(block)
    return "sha256:" + sha.hexdigest(), size


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type, digest, size, **extra):
    return dict(mediaType=media_type, digest=digest, size=size, **extra)


def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, mtime
    info.uname = info.gname = ""
    tar.addfile(info, _Bytes(data))


class _Bytes:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        end = len(self.data) if n < 0 else self.pos + n
        chunk = self.data[self.pos:end]
        self.pos += len(chunk)
        return chunk


def write_image(out, name, tag, layers, env=(), workdir=None, user=None, cmd=None, mtime=0, entrypoint=None):
    """Write an OCI image layout tar to out; return the manifest digest."""
    described = [dict(zip(("path", "digest", "size"), (path,) + _file_digest(path))) for path in layers]
    runtime = {"Env": list(env)}
    if workdir:
        runtime["WorkingDir"] = workdir
    if user:
        runtime["User"] = user
    if entrypoint:
        runtime["Entrypoint"] = list(entrypoint)
    if cmd:
        runtime["Cmd"] = list(cmd)
    config = _json({
        "architecture": "amd64",
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in described]},
    })
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": _descriptor(CONFIG, config_digest, len(config)),
        "layers": [_descriptor(LAYER, layer["digest"], layer["size"]) for layer in described],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = _json({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [_descriptor(MANIFEST, manifest_digest, len(manifest),
                                  platform={"architecture": "amd64", "os": "linux"},
                                  annotations={"org.opencontainers.image.ref.name": tag,
                                               "io.containerd.image.name": "%s:%s" % (name, tag)})],
    })
    part = out + ".part"
    with tarfile.open(part, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}), mtime)
        _add_bytes(tar, "index.json", index, mtime)
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            info.uname = info.gname = ""
            tar.addfile(info)
        _add_bytes(tar, "blobs/sha256/" + config_digest[7:], config, mtime)
        _add_bytes(tar, "blobs/sha256/" + manifest_digest[7:], manifest, mtime)
        done = set()
        for layer in described:
            if layer["digest"] in done:
                continue
            done.add(layer["digest"])
            info = tarfile.TarInfo("blobs/sha256/" + layer["digest"][7:])
            info.size, info.mode, info.mtime = layer["size"], 0o644, mtime
            info.uname = info.gname = ""
            with open(layer["path"], "rb") as data:
                tar.addfile(info, data)
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, out)
    return manifest_digest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--mtime", type=int, default=0, help="the mtime of every entry (default 0)")
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer", help="a directory as one uncompressed layer tar")
    layer.add_argument("dir")
    layer.add_argument("out")
    image = sub.add_parser("image", help="an OCI image layout tar archive")
    image.add_argument("out")
    image.add_argument("--name", required=True, help="repository, e.g. localhost/inferops/python")
    image.add_argument("--tag", required=True)
    image.add_argument("--layer", action="append", required=True, dest="layers", help="layer tar, base first")
    image.add_argument("--env", action="append", default=[], help="K=V, in the image config's Env")
    image.add_argument("--workdir")
    image.add_argument("--user")
    image.add_argument("--cmd", type=json.loads, help="JSON list, the image config's Cmd")
    image.add_argument("--entrypoint", type=json.loads,
                       help="JSON list, the image config's Entrypoint (a pod's args replace Cmd, not this)")
    args = parser.parse_args(argv)
    if args.command == "layer":
        if not os.path.isdir(args.dir):
            parser.error("%s is not a directory" % args.dir)
        digest, size = write_layer(args.dir, args.out, args.mtime)
        print(digest, size)
    else:
        for env in args.env:
            if "=" not in env:
                parser.error("--env %s: not K=V" % env)
        for option in ("cmd", "entrypoint"):
            value = getattr(args, option)
            if value is not None and not (isinstance(value, list) and all(isinstance(a, str) for a in value)):
                parser.error("--%s: a JSON list of strings" % option)
        print(write_image(args.out, args.name, args.tag, args.layers, args.env, args.workdir, args.user,
                          args.cmd, args.mtime, args.entrypoint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
