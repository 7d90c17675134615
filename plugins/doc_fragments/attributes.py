# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute blocks stated by every module of the collection."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: Running the same task twice in a row changes nothing the second time.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module only reads; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: This module only reads.
  idempotent:
    support: full
"""

    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/inferops.kubernetes.k8s) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - inferops.kubernetes.k8s
"""
