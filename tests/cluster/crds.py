#!/usr/bin/env python
"""Upstream CustomResourceDefinitions for the integration tests.

The CRDs are read out of each project's own Go module, as `go mod download`
fetches it from the module proxy into the module cache, at the versions pinned
in crds.env next to this file. None of their YAML is kept in this repository.

    crds.py fetch --out DIR
        write the wanted CRDs to DIR/crds.yaml (one multi-document file) and
        print a summary to stderr
    crds.py install --kubeconfig PATH [--out DIR]
        fetch unless DIR/crds.yaml is already current, server-side apply every
        CRD and wait until each is Established

Exit status: 0 on success, 3 when the Go toolchain is missing, 1 otherwise.

From Python (pytest fixtures): wanted_kinds(), fetch(out_dir), install(...).
Only `install` needs the `kubernetes` client; the rest is stdlib and PyYAML.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import yaml

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "crds.env"
OUTPUT_NAME = "crds.yaml"
FIELD_MANAGER = "inferops-test-crds"
ESTABLISHED_TIMEOUT_S = 120.0


# libyaml makes loading the few megabytes of schema several times faster.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


# PyYAML resolves a plain `=` to YAML 1.1's "value" type, which it cannot
# construct, so prometheus-operator's `enum: [..., =, =~]` would not load.
# Go's YAML reads it as the string "=", and so does this loader.
_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class CRDError(Exception):
    exit_code = 1


class GoNotFound(CRDError):
    exit_code = 3


class GroupKind(NamedTuple):
    group: str
    kind: str


class Source(NamedTuple):
    version_key: str  # key in crds.env
    module: str
    crd_dir: str  # directory inside the module with the CRD files
    kinds: tuple[GroupKind, ...]


def _kinds(group: str, *kinds: str) -> tuple[GroupKind, ...]:
    return tuple(GroupKind(group, kind) for kind in kinds)


SOURCES = (
    Source(
        "KEDA_VERSION",
        "github.com/kedacore/keda/v2",
        "config/crd/bases",
        _kinds("keda.sh", "ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"),
    ),
    Source(
        "PROMETHEUS_OPERATOR_VERSION",
        "github.com/prometheus-operator/prometheus-operator",
        "example/prometheus-operator-crd",
        _kinds("monitoring.coreos.com", "ServiceMonitor", "PodMonitor", "PrometheusRule"),
    ),
    # config/crd/minimal/ has the same kinds with the schema replaced by
    # x-kubernetes-preserve-unknown-fields; full/ validates what the tests apply.
    Source(
        "KSERVE_VERSION",
        "github.com/kserve/kserve",
        "config/crd/full",
        # TrainedModel and InferenceGraph: KServe's controller manager (tests/cluster/kserve.sh) watches them
        _kinds("serving.kserve.io", "InferenceService", "ServingRuntime", "ClusterServingRuntime", "TrainedModel",
               "InferenceGraph"),
    ),
    # KServe's controller and pod mutator look a model's storage URI up among these
    Source(
        "KSERVE_VERSION",
        "github.com/kserve/kserve",
        "config/crd/full/clusterstoragecontainer",
        _kinds("serving.kserve.io", "ClusterStorageContainer"),
    ),
    # deploy/crds/ is plain controller-gen output. The Helm chart's
    # templates/crd-*.yaml carry the same spec wrapped in `{{- if ... }}` and
    # templated labels; they are not read. Should templating ever show up in
    # deploy/crds/, _crds_in() refuses the file instead of guessing at it.
    Source(
        "CERT_MANAGER_VERSION",
        "github.com/cert-manager/cert-manager",
        "deploy/crds",
        _kinds("cert-manager.io", "Certificate", "Issuer", "ClusterIssuer"),
    ),
    Source(
        "GATEWAY_API_VERSION",
        "sigs.k8s.io/gateway-api",
        "config/crd/standard",
        _kinds("gateway.networking.k8s.io", "GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant"),
    ),
)

# A line that starts with a Go/Helm template action ({{ ... }}).
_TEMPLATE_LINE = re.compile(r"^[ \t]*\{\{", re.MULTILINE)


def wanted_kinds() -> tuple[GroupKind, ...]:
    """Every (group, kind) that fetch() puts into crds.yaml, in file order."""
    return tuple(gk for source in SOURCES for gk in source.kinds)


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse the KEY=value lines of crds.env."""
    versions = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier() or not value:
            raise CRDError(f"{path}:{number}: expected KEY=value, got {line!r}")
        versions[key] = value
    missing = [s.version_key for s in SOURCES if s.version_key not in versions]
    if missing:
        raise CRDError(f"{path}: no value for {', '.join(missing)}")
    return versions


def _module_specs(versions: dict[str, str]) -> list[str]:
    return [f"{s.module}@{versions[s.version_key]}" for s in SOURCES]


def _header(versions: dict[str, str]) -> str:
    """First lines of crds.yaml; a file that starts with them is current."""
    lines = ["# Generated by tests/cluster/crds.py from Go module downloads; do not edit."]
    for source, spec in zip(SOURCES, _module_specs(versions)):
        lines.append(f"# {spec}: {' '.join(gk.kind for gk in source.kinds)}")
    return "\n".join(lines) + "\n"


def is_current(crds_yaml: Path) -> bool:
    """Whether crds_yaml was written by fetch() for the versions in crds.env."""
    header = _header(read_versions())
    try:
        with crds_yaml.open() as f:
            return f.read(len(header)) == header
    except FileNotFoundError:
        return False


def _json_stream(text: str) -> Iterator[dict]:
    """`go mod download -json` prints one JSON object per module, concatenated."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return
        obj, pos = decoder.raw_decode(text, pos)
        yield obj


def download(specs: list[str]) -> dict[str, Path]:
    """Download MODULE@VERSION specs; return each spec's module cache directory."""
    go = shutil.which("go")
    if go is None:
        raise GoNotFound(
            "the Go toolchain (go) is not on PATH. The test CRDs are read from Go "
            "module downloads (go mod download); install Go and re-run."
        )
    # Outside any go.mod, so that no module or vendor directory around the
    # caller changes what is resolved; -mod=mod also overrides a -mod=vendor
    # from the caller's GOFLAGS. GOTOOLCHAIN=local: never fetch another go.
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    with tempfile.TemporaryDirectory(prefix="inferops-crds-") as tmp:
        proc = subprocess.run(
            [go, "mod", "download", "-json", *specs],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,  # failures are reported from its JSON below
        )
    try:
        results = {f"{r.get('Path')}@{r.get('Version')}": r for r in _json_stream(proc.stdout)}
    except json.JSONDecodeError:
        results = {}  # go failed before printing JSON; its stderr says why
    dirs, errors = {}, []
    for spec in specs:
        result = results.get(spec, {})
        if result.get("Dir"):
            dirs[spec] = Path(result["Dir"])
        else:
            errors.append(f"{spec}: {result.get('Error', 'no module directory reported')}")
    if proc.returncode != 0 or errors:
        detail = "\n  ".join(errors + ([proc.stderr.strip()] if proc.stderr.strip() else []))
        raise CRDError(f"go mod download failed (exit {proc.returncode}):\n  {detail}")
    return dirs


def _crds_in(directory: Path) -> dict[GroupKind, tuple[dict, Path]]:
    """Every CustomResourceDefinition document in directory/*.yaml, by group and kind."""
    if not directory.is_dir():
        raise CRDError(f"{directory}: no such directory in the module")
    found: dict[GroupKind, tuple[dict, Path]] = {}
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        if _TEMPLATE_LINE.search(text):
            raise CRDError(f"{path}: contains template directives ({{{{ ... }}}}), not plain YAML")
        for doc in yaml.load_all(text, Loader=_Loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue  # kustomization.yaml, admission policies, ...
            spec = doc.get("spec") or {}
            gk = GroupKind(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))
            if gk in found:
                raise CRDError(f"{gk.kind}.{gk.group} is defined twice: {found[gk][1]} and {path}")
            found[gk] = (doc, path)
    return found


def _check(doc: dict, origin: str) -> None:
    """Fail unless doc is an apiextensions.k8s.io/v1 CRD the API server can take."""
    problems = []
    if doc.get("apiVersion") != "apiextensions.k8s.io/v1":
        problems.append(f"apiVersion is {doc.get('apiVersion')!r}, not 'apiextensions.k8s.io/v1'")
    spec = doc["spec"]
    name = (doc.get("metadata") or {}).get("name")
    expected = f"{spec['names'].get('plural')}.{spec['group']}"
    if name != expected:
        problems.append(f"metadata.name is {name!r}, expected {expected!r}")
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append("does not have exactly one storage version")
    if problems:
        raise CRDError(f"{origin}: " + "; ".join(problems))


def _versions_column(doc: dict) -> str:
    return ",".join(v["name"] + ("*" if v.get("storage") else "") for v in doc["spec"]["versions"])


def fetch(out_dir: Path) -> Path:
    """Write the wanted CRDs from the pinned modules to out_dir/crds.yaml and return its path."""
    versions = read_versions()
    specs = _module_specs(versions)
    module_dirs = download(specs)

    docs, missing, rows = [], [], []
    for source, spec in zip(SOURCES, specs):
        module_dir = module_dirs[spec]
        available = _crds_in(module_dir / source.crd_dir)
        for gk in source.kinds:
            if gk not in available:
                missing.append(f"{gk.kind} ({gk.group}) in {spec}/{source.crd_dir}")
                continue
            doc, path = available[gk]
            relpath = path.relative_to(module_dir).as_posix()
            _check(doc, f"{spec}/{relpath}")
            docs.append(doc)
            rows.append((gk.kind, gk.group, _versions_column(doc), f"{spec} {relpath}"))
    if missing:
        raise CRDError("wanted CRDs not found:\n  " + "\n  ".join(missing))

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / OUTPUT_NAME
    # Written beside the target and renamed, so that concurrent callers (test
    # workers) never read a half-written file.
    with tempfile.NamedTemporaryFile("w", dir=out_dir, prefix=f".{OUTPUT_NAME}.", delete=False) as f:
        f.write(_header(versions))
        yaml.dump_all(docs, f, Dumper=_Dumper, explicit_start=True, sort_keys=False)
    os.chmod(f.name, 0o644)  # NamedTemporaryFile creates it 0600
    os.replace(f.name, target)

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'KIND':<{widths[0]}}  {'GROUP':<{widths[1]}}  {'VERSIONS':<{widths[2]}}  SOURCE", file=sys.stderr)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3], file=sys.stderr)
    print(f"(* storage version) {len(docs)} CRDs -> {target}", file=sys.stderr)
    return target


def install(kubeconfig: Path, crds_yaml: Path, timeout: float = ESTABLISHED_TIMEOUT_S) -> list[str]:
    """Server-side apply every CRD in crds_yaml, wait until all are Established, return their names."""
    # Imported here so that fetch() works where only PyYAML is installed.
    from kubernetes import config, dynamic
    from kubernetes.dynamic.exceptions import DynamicApiError

    docs = [doc for doc in yaml.load_all(crds_yaml.read_text(), Loader=_Loader) if doc]
    client = dynamic.DynamicClient(config.new_client_from_config(config_file=str(kubeconfig)))
    api = client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    names = []
    for doc in docs:
        name = doc["metadata"]["name"]
        # Server-side apply: a client-side apply would store the whole object
        # in the last-applied-configuration annotation, and the biggest CRDs
        # (KServe's InferenceService) exceed the 256 KiB annotation limit.
        try:
            api.server_side_apply(body=doc, field_manager=FIELD_MANAGER, force_conflicts=True)
        except DynamicApiError as e:
            raise CRDError(f"applying {name}: {e.status} {e.summary()}") from None
        names.append(name)
    _wait_established(api, names, timeout)
    print(f"{len(names)} CRDs applied and Established", file=sys.stderr)
    return names


def _wait_established(api, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while True:
        for name in sorted(pending):
            status = api.get(name=name).to_dict().get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            accepted = conditions.get("NamesAccepted", {})
            if accepted.get("status") == "False":  # conflicts with another CRD; waiting won't help
                raise CRDError(f"{name}: NamesAccepted=False: {accepted.get('message')}")
            if conditions.get("Established", {}).get("status") == "True":
                pending.discard(name)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise CRDError(f"not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_fetch = commands.add_parser("fetch", help=f"write DIR/{OUTPUT_NAME}")
    p_fetch.add_argument("--out", type=Path, required=True, metavar="DIR")
    p_install = commands.add_parser("install", help="fetch if needed, apply, wait until Established")
    p_install.add_argument("--kubeconfig", type=Path, required=True, metavar="PATH")
    p_install.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"use DIR/{OUTPUT_NAME}, fetching it unless it is current (default: a temporary directory)",
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            fetch(args.out)
        elif args.out is not None:
            crds_yaml = args.out / OUTPUT_NAME
            install(args.kubeconfig, crds_yaml if is_current(crds_yaml) else fetch(args.out))
        else:
            with tempfile.TemporaryDirectory(prefix="inferops-crds-") as tmp:
                install(args.kubeconfig, fetch(Path(tmp)))
    except CRDError as e:
        print(f"crds.py: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
