# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ONNX Runtime, served by Triton's onnxruntime backend: the standalone ONNX Runtime server is deprecated.

Triton in everything but its name (the app.kubernetes.io/name label) and its backend, which is fixed.
"""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.triton import Triton


class OnnxRuntime(Triton):
    name = "onnxruntime"
    fixed_backend = "onnxruntime"


RUNTIME = OnnxRuntime()
