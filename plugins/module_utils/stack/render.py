# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render-only output: the stack's objects as YAML files for GitOps tools, one object per file.

The objects are the ones `manifests.build_manifests` gives the apply path; file names carry the
apply order (00-configmap-resnet-config.yaml, 01-deployment-resnet.yaml, ...).
"""

from __future__ import annotations

import os

try:
    import yaml
except ImportError:  # PyYAML comes with the kubernetes client; render mode checks for it itself
    yaml = None

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import object_ref
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError


def file_name(index, obj):
    return "%02d-%s-%s.yaml" % (index, obj["kind"].lower(), obj["metadata"]["name"])


def to_yaml(obj):
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def render(objects, directory, check_mode=False):
    """Write each object to directory; return {changed, rendered_files, diff}. In check mode nothing is written."""
    if yaml is None:
        raise SpecError("render_dir: writing YAML needs PyYAML. Install it (pip install PyYAML) on the host that runs the module.")
    if not directory:
        raise SpecError("render_dir: mode render needs a directory. Set render_dir, for example ./manifests/resnet.")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise SpecError("render_dir: %s exists and is not a directory. Give a directory." % directory)
    files, diffs = [], []
    for index, obj in enumerate(objects):
        path = os.path.join(directory, file_name(index, obj))
        text = to_yaml(obj)
        before = None
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                before = handle.read()
        files.append(path)
        if before == text:
            continue
        diffs.append({"before": before or "", "after": text, "before_header": path, "after_header": path})
        if not check_mode:
            os.makedirs(directory, exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
    return {"changed": bool(diffs), "rendered_files": files, "diff": diffs}


def render_result(objects, directory, check_mode=False, diff=False):
    """A module's result for render mode: the files written (or, in check mode, that would be), each object's file."""
    outcome = render(objects, directory, check_mode=check_mode)
    changed_files = {d["after_header"] for d in outcome["diff"]}
    result = {"changed": outcome["changed"], "rendered_files": outcome["rendered_files"],
              "objects": [{"ref": object_ref(o), "changed": path in changed_files, "file": path}
                          for o, path in zip(objects, outcome["rendered_files"])]}
    if diff:
        result["diff"] = outcome["diff"]
    return result
