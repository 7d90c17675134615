# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-apply a MIG layout at boot, before the kubelet starts.

Only MIG mode survives a reboot; GPU and compute instances do not. The mig role installs this
file with the NVIDIA module_utils it needs on the GPU host and a systemd unit that runs

    python -m ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig_boot \\
        --config /etc/inferops/mig/config.yaml --layout NAME

It prints mig_config's result as JSON. Exit status: 0 applied or nothing to do, 1 refused (bad
layout, busy GPU, no usable NVML), 2 MIG mode still waits for a GPU reset.
"""

from __future__ import annotations

import argparse
import json
import sys

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, load_layout_file, select_layout
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig_apply import run
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.nvml import NvmlUnavailable, import_pynvml


def main(argv=None, pynvml=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="inferops-mig-boot", description="Re-apply a MIG layout at boot.")
    parser.add_argument("--config", required=True, help="the layout document (mig-parted v1 format)")
    parser.add_argument("--layout", required=True, help="the layout's name under mig-configs")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as handle:
            entries = select_layout(load_layout_file(handle.read()), args.layout)
        result = run(pynvml or import_pynvml(), entries, check_mode=False, allow_busy=False)
    except OSError as exc:
        out.write(json.dumps({"failed": True, "msg": "%s cannot be read: %s" % (args.config, exc.strerror)}) + "\n")
        return 1
    except (LayoutError, NvmlUnavailable) as exc:
        out.write(json.dumps({"failed": True, "msg": str(exc)}) + "\n")
        return 1
    result.pop("diff", None)
    out.write(json.dumps(result, sort_keys=True) + "\n")
    return 2 if result["reset_required"] else 0


if __name__ == "__main__":
    # run by systemd, not by Ansible: there is no exit_json here
    sys.exit(main())  # pylint: disable=ansible-bad-function
