# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of every error the collection raises, and the input error that names the option.

A module never catches these one by one: `common.runner.run_module` turns any of them into a
failed result the same way (msg, the error's class name, and whatever result keys it carries).
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class InferopsError(Exception):
    """Base class: a failure the collection reports to the user as-is.

    msg is the whole message (cause and fix); details are for the code that catches it (an HTTP
    status, the object last seen); result holds keys a failed module result still carries.
    """

    def __init__(self, msg: str, result: Optional[Dict[str, Any]] = None, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result: Dict[str, Any] = dict(result or {})
        self.details: Dict[str, Any] = details


class InputError(InferopsError):
    """A wrong option: the message is "<option path>: <problem>. <fix>", raised before anything is written."""


class MissingLibraryError(InferopsError):
    """A Python library the module needs is not installed where the module runs."""

    def __init__(self, msg: str, traceback_text: Optional[str] = None) -> None:
        super().__init__(msg, result={"exception": traceback_text} if traceback_text else None)
