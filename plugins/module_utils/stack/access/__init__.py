# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least privilege for one model service: its ServiceAccount, a Role and RoleBinding, and a NetworkPolicy
(the inference_access module). options.py holds the options, spec.py checks them, deploy.py applies."""
