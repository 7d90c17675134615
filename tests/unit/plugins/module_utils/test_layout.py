"""The layout rule of docs/architecture.md, read from the source itself.

Capability packages flow spec -> manifests -> run and never import each other; what two of them
share lives in a layer below (common, gpu, inference, k8s). Every error derives from one base.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError

ROOT = Path(__file__).resolve().parents[4]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
PREFIX = "ansible_collections.inferops.kubernetes.plugins.module_utils."

# What each package may import besides itself. Layers first, then the capabilities.
LAYERS = {
    "common": set(),
    "gpu": {"common"},
    "inference": {"common"},
    "k8s": {"common", "gpu"},
}
CAPABILITIES = ("dcgm_exporter", "device_plugin", "nodes", "stack", "warmup")
ALLOWED = dict(LAYERS, **{name: set(LAYERS) for name in CAPABILITIES})

# Programs that run outside Ansible and the collection (shipped as a file into a pod), so they
# cannot import the collection's error base.
STANDALONE = {"stack/warmup_agent.py"}


def sources(tree=MODULE_UTILS):
    return sorted(p for p in tree.rglob("*.py") if "__pycache__" not in p.parts)


def collection_imports(path):
    """(line, imported module path below module_utils) of every import of the collection's own module_utils."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            target = node.module[len(PREFIX):]
            names = [target + "." + alias.name for alias in node.names]
            found.extend((node.lineno, name) for name in names)
        elif isinstance(node, ast.ImportFrom) and node.module == PREFIX.rstrip("."):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name[len(PREFIX):]) for a in node.names if a.name.startswith(PREFIX))
    return found


def test_every_file_belongs_to_a_known_package():
    loose = [str(p.relative_to(MODULE_UTILS)) for p in sources()
             if len(p.relative_to(MODULE_UTILS).parts) < 2 or p.relative_to(MODULE_UTILS).parts[0] not in ALLOWED]
    assert not loose, "module_utils files outside the packages of docs/architecture.md: %s" % loose


def layout_violations(tree=MODULE_UTILS):
    problems = []
    for path in sources(tree):
        own = path.relative_to(tree).parts[0]
        for line, target in collection_imports(path):
            other = target.split(".")[0]
            if other != own and other not in ALLOWED.get(own, set()):
                problems.append("%s:%d imports %s (%s may import %s)" % (
                    path.relative_to(tree), line, target, own, ", ".join(sorted(ALLOWED.get(own, ()))) or "nothing"))
    return problems


def test_no_package_imports_sideways_or_upwards():
    assert layout_violations() == []


def test_the_rule_catches_sideways_and_upward_imports(tmp_path):
    # the check itself can fail: a capability importing another one, and a layer importing a capability
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "x.py").write_text("from %snodes.labels import apply_node_labels\n" % PREFIX)
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "y.py").write_text("import %sstack.spec\n" % PREFIX)
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "z.py").write_text("from %sk8s import client\nfrom %scommon.errors import InputError\n" % (PREFIX, PREFIX))
    assert sorted(layout_violations(tmp_path)) == [
        "gpu/z.py:1 imports k8s.client (gpu may import common)",
        "k8s/y.py:1 imports stack.spec (k8s may import common, gpu)",
        "stack/x.py:1 imports nodes.labels.apply_node_labels (stack may import common, gpu, inference, k8s)",
    ]


def test_unit_tests_mirror_the_source_tree():
    tests = Path(__file__).resolve().parent
    strays = [p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__" and not (MODULE_UTILS / p.name).is_dir()]
    assert not strays, "test folders without a source package: %s" % strays


IMPORTABLE = [p for p in sources() if p.name != "__init__.py" and str(p.relative_to(MODULE_UTILS)) not in STANDALONE]


@pytest.mark.parametrize("path", IMPORTABLE, ids=lambda p: str(p.relative_to(MODULE_UTILS)))
def test_every_error_derives_from_the_one_base(path):
    relative = path.relative_to(MODULE_UTILS)
    module = importlib.import_module(PREFIX + ".".join(relative.with_suffix("").parts))
    own = [obj for _name, obj in inspect.getmembers(module, inspect.isclass)
           if issubclass(obj, BaseException) and obj.__module__ == module.__name__]
    strays = [cls.__name__ for cls in own if not issubclass(cls, InferopsError)]
    assert not strays, "%s defines errors outside InferopsError: %s" % (relative, strays)


# The client wrapper's low-level doors: only k8s/client.py opens them.
LOW_LEVEL = {"resource", "call", "dynamic", "api_client", "CoreV1Api", "server_side_apply"}


def low_level_uses(tree=MODULE_UTILS):
    found = []
    for path in sources(tree):
        if path.relative_to(tree).as_posix() == "k8s/client.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # attributes only (client.resource, client.call), and CoreV1Api however it is reached
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in LOW_LEVEL and (isinstance(node, ast.Attribute) or name == "CoreV1Api"):
                found.append("%s:%d %s" % (path.relative_to(tree), node.lineno, name))
    return found


def test_only_the_client_wrapper_touches_the_dynamic_client_and_core_api():
    assert low_level_uses() == []


def test_the_wrapper_rule_catches_a_direct_call(tmp_path):
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "x.py").write_text("def f(client):\n    return client.resource('v1', 'Node').patch(body={})\n")
    assert low_level_uses(tmp_path) == ["nodes/x.py:2 resource"]


def test_the_mig_boot_reapply_is_shipped_with_everything_it_imports():
    # roles/mig copies these files to the host for the boot-time unit; a missing one fails only at boot
    shipped = set(yaml.safe_load((ROOT / "roles" / "mig" / "vars" / "main.yml").read_text())["mig_boot_sources"])
    needed, todo = set(), ["gpu/mig_boot.py"]
    while todo:
        path = todo.pop()
        if path in needed:
            continue
        needed.add(path)
        for _line, target in collection_imports(MODULE_UTILS / path):
            parts = target.split(".")
            for depth in (len(parts), len(parts) - 1):  # a module, or a name imported from a module
                candidate = "/".join(parts[:depth]) + ".py"
                if (MODULE_UTILS / candidate).is_file():
                    todo.append(candidate)
                    break
    needed |= {str(Path(p).parent / "__init__.py") for p in needed}
    assert sorted(needed - shipped) == []


def test_no_file_is_named_like_a_standard_library_module():
    # stack/warmup_agent.py runs as a script from its own folder (tests/runtimes, and any user who tries it):
    # a stack/types.py there hid the standard library's types module and broke its first import
    clashes = [str(p.relative_to(MODULE_UTILS)) for p in sources() if p.stem in sys.stdlib_module_names]
    assert clashes == []
