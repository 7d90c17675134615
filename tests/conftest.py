"""Make the checkout importable as ansible_collections.inferops.kubernetes, wherever it is cloned."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".tmp" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "inferops" / "kubernetes"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(ROOT, target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))

# tests/unit/fake_pynvml.py, the stand-in for NVML, imported by name from the unit tests
UNIT = str(ROOT / "tests" / "unit")
if UNIT not in sys.path:
    sys.path.insert(0, UNIT)
