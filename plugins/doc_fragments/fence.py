# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The refresh lock as a fence (module_utils/_lock.py).
    DOCUMENTATION = r"""
options:
  lock:
    description:
      - The refresh lock this run holds, as M(dbops.aurora.refresh_lock) returns it. Before each
        change, and at each poll while it waits, the module checks that the lock still names
        this owner and token and records a heartbeat in it.
      - When another run has resumed or taken over the lock (a new token), the module fails
        without changing anything, so a run killed or cancelled whose module is still running
        never acts beside the run that resumed it. Without this option nothing is checked.
    type: dict
    suboptions:
      name:
        description: SSM parameter of the lock.
        type: str
        required: true
      owner:
        description: The owner this run took the lock as.
        type: str
        required: true
      token:
        description: The token the lock was taken with (RV(dbops.aurora.refresh_lock#module:lock.token)).
        type: str
        required: true
"""
