# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client side of the inference protocols: request presets, an HTTP session and the warmup loop."""

from __future__ import annotations
