"""STAND-IN for nvidia-ml-py on the throwaway Debian host, which has no GPU.

Put this directory first on PYTHONPATH (the `python` wrapper beside it does) and `import pynvml`
gives the fake NVML of tests/unit/fake_pynvml.py (real A100/H100 profiles and placements), with
its state (MIG mode, GPU instances) kept in a JSON file between processes, so one Ansible run's
mig_config, the next one's gpu_facts and a "boot" re-apply all see the same GPUs:

    INFEROPS_FAKE_NVML_STATE (default /etc/inferops-test/fake-nvml.json)
    {"reset_applies_immediately": true, "gpus": [{"fixture": "a100-sxm4-80gb", "mig": false}, ...]}

A reboot is simulated by removing the "instances" of every GPU: MIG mode survives, instances do not.
"""

from __future__ import annotations

import atexit
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SELF = sys.modules[__name__]
STATE = os.environ.get("INFEROPS_FAKE_NVML_STATE", "/etc/inferops-test/fake-nvml.json")

# fake_pynvml takes NVML's constants and ctypes types from the real nvidia-ml-py: load that one
# under the name pynvml while fake_pynvml is imported, then put this module back in its place.
_PATH = list(sys.path)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
del sys.modules[__name__]
import pynvml as _real  # noqa: E402  pylint: disable=wrong-import-position

sys.path[:] = _PATH
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(_HERE)), "unit"))  # tests/unit
import fake_pynvml  # noqa: E402  pylint: disable=wrong-import-position

sys.modules[__name__] = _SELF

with open(STATE, encoding="utf-8") as _handle:
    _STATE = json.load(_handle)
_FAKE = fake_pynvml.FakePynvml(
    *[fake_pynvml.gpu(g["fixture"], mig=g.get("mig", False), pending=g.get("pending"),
                      instances=[tuple(i) for i in g.get("instances", [])], processes=g.get("processes", []))
      for g in _STATE["gpus"]],
    reset_applies_immediately=_STATE.get("reset_applies_immediately", True),
)


def _save():
    if not _FAKE.mutations:
        return
    gpus = []
    for device in _FAKE.devices:
        instances = sorted((gi.profile["name"][4:], gi.start) for gi in device.instances.values())
        gpus.append({"fixture": device.fixture, "mig": device.current, "pending": device.pending,
                     "instances": [list(i) for i in instances], "processes": device.processes})
    _STATE["gpus"] = gpus
    tmp = STATE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(_STATE, handle, indent=1, sort_keys=True)
    os.replace(tmp, STATE)


atexit.register(_save)


def __getattr__(name):
    return getattr(_FAKE, name)
