# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The refresh lock as a fence: a module that changes something for a refresh first checks
that its run still holds the lock with the token it was given, and records a heartbeat.

A run killed or cancelled (AWX) leaves the module it was running as an orphan that goes on
acting.  Its heartbeat keeps a resumed run out until it stops (refresh_lock's stale_after);
and once a resumed run holds the lock with a new token, any later step of the orphan is
refused here instead of acting beside it."""

import json

from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client

# The module option, for argument_spec (documented by the dbops.aurora.fence doc fragment).
FENCE_OPTION = dict(type="dict", no_log=False, options=dict(
    name=dict(type="str", required=True),
    owner=dict(type="str", required=True),
    token=dict(type="str", required=True, no_log=False),
))


class Fenced(Exception):
    """This run no longer holds the lock: it must not change anything."""


def parse(parameter):
    """The lock a parameter holds, as a dict with its version, or None (free or not a lock)."""
    if parameter is None:
        return None
    try:
        lock = json.loads(parameter["Value"])
    except (ValueError, TypeError):
        return None
    if not isinstance(lock, dict):
        return None
    lock["version"] = parameter["Version"]
    return lock


def value_of(lock):
    return json.dumps({key: value for key, value in lock.items() if key != "version"},
                      sort_keys=True)


def recent_heartbeat(lock, now):
    """True when the lock's heartbeat is younger than a quarter of the stale_after it was taken
    with: a resume still sees this run alive, so writing again would only cost a call."""
    stale_after = lock.get("stale_after")
    last = ssm.parse_iso(lock.get("heartbeat_at"))
    if not isinstance(stale_after, (int, float)) or last is None:
        return False
    return 0 <= (now - last).total_seconds() < stale_after / 4.0


def heartbeat(client, fence, attempts=3):
    """Check ``fence`` ({name, owner, token}) still holds the lock and record a heartbeat.

    Raises Fenced when the lock is gone or held by another owner or token.  The check (a read)
    happens every time; the heartbeat (a write) only when the last one is older than a quarter
    of the lock's stale_after.  A concurrent write (another heartbeat of the same run) is read
    again, at most ``attempts`` times."""
    for dummy in range(attempts):
        lock = parse(ssm.get_parameter(client, fence["name"]))
        if lock is None or lock.get("owner") != fence["owner"] \
                or lock.get("token") != fence["token"]:
            holder = "nobody" if lock is None else "%s (token %s)" % (
                lock.get("owner"), lock.get("token"))
            raise Fenced("refresh lock %s is no longer held by this run (%s, token %s): it is "
                         "held by %s. Another run resumed or took it over; this one stops "
                         "without changing anything." % (fence["name"], fence["owner"],
                                                         fence["token"], holder))
        now = ssm.utcnow()
        if recent_heartbeat(lock, now):
            return
        lock["heartbeat_at"] = ssm.iso(now)
        try:
            ssm.write_parameter(client, fence["name"], value_of(lock), lock["version"])
            return
        except ssm.ConcurrentChange:
            continue
    raise Fenced("refresh lock %s changed under this run %d times in a row; stopping"
                 % (fence["name"], attempts))


class Fence:
    """For a module run: ``check()`` before each change and at each poll of a wait.  Without
    a fence option (a module used outside a refresh) it does nothing."""

    def __init__(self, module):
        self.module = module
        self.fence = module.params.get("lock")
        self.client = None

    def check(self):
        if not self.fence or self.module.check_mode:
            return
        if self.client is None:
            self.client = retrying_client(self.module, "ssm")
        try:
            heartbeat(self.client, self.fence)
        except Fenced as error:
            self.module.fail_json(msg=str(error), fenced=True)
