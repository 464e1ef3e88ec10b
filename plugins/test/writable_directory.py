# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests run on the controller, where the refresh writes its report: checking the
report's directory here costs no module run."""

import os


def writable_directory(path):
    """True when ``path`` is a directory this process may create files in."""
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


class TestModule:
    def tests(self):
        return {"writable_directory": writable_directory}
