#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: refresh_lock
version_added: 0.1.0
short_description: Take or release the lock that keeps two refresh runs from overlapping
description:
  - "The lock is an SSM Parameter Store parameter holding a JSON object with the keys
    C(owner), C(started_at), C(expires_at), C(token), C(heartbeat_at) (times in ISO 8601,
    UTC) and C(stale_after)."
  - Every take writes a new C(token). The modules a refresh runs are given the lock (name,
    owner, token) and check it before each change, recording a heartbeat (C(heartbeat_at)); see
    the C(lock) option of M(dbops.aurora.cluster_restore), M(dbops.aurora.cluster_swap) and
    M(dbops.aurora.snapshot).
  - C(state=present) takes the lock. When the parameter does not exist, it is created only if
    still absent (C(Overwrite=false)), so of two runs racing for a free lock exactly one wins.
  - A lock held by another owner fails the module, naming the holder and until when it holds.
  - A lock past its C(expires_at) can be taken over. The takeover overwrites the parameter and
    checks the version SSM returns. If another run took it over at the same moment, their
    lock is put back and this run fails. The result says C(took_over_expired=true) and names
    the previous holder.
  - Taking a lock you already hold and that has not expired resumes your run (a run that was
    killed or cancelled, rerun with its owner). A killed run's module may still be running and
    acting (ansible-core runs modules in their own session; an AWX cancel leaves them too), so
    the resume is refused while the lock's last heartbeat is younger than O(stale_after)
    seconds. Once it is older, the lock is taken with a new token, and any later step of the
    old run is refused by the fence. Once it has expired, taking it again writes a fresh lock.
  - C(state=absent) releases the lock (deletes the parameter), only for its owner. A lock
    held by someone else is never released, even when it has expired; take it over instead.
  - In check mode nothing is written; the result says what would happen.
author:
  - dbops.aurora contributors (@dbops)
options:
  name:
    description:
      - SSM parameter path of the lock.
    type: str
    default: /dbops/acceptance/refresh/lock
  state:
    description:
      - C(present) takes the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Who takes or releases the lock, for example the AWX job id (C(awx-job-{{ awx_job_id }})).
      - 1 to 256 characters.
    type: str
    required: true
  ttl:
    description:
      - Seconds the lock is held before others may take it over (1 to 604800, one week).
    type: int
    default: 14400
  stale_after:
    description:
      - Seconds without a heartbeat after which the owner may resume a lock it holds (1 to
        86400). Modules heartbeat at every poll of their waits (every 15 seconds by default in
        the refresh), so the default leaves a wide margin.
    type: int
    default: 120
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the refresh lock for this AWX job
  dbops.aurora.refresh_lock:
    owner: "awx-job-{{ awx_job_id | default('manual') }}"
    ttl: 7200
  register: lock

- name: Tell whether a stale lock was taken over
  ansible.builtin.debug:
    msg: "Took over the expired lock of {{ lock.previous_holder.owner }}"
  when: lock.took_over_expired

- name: Release it at the end of the run
  dbops.aurora.refresh_lock:
    name: /dbops/acceptance/refresh/lock
    owner: "awx-job-{{ awx_job_id | default('manual') }}"
    state: absent
"""

RETURN = r"""
name:
  description: The lock parameter.
  returned: always
  type: str
  sample: /dbops/acceptance/refresh/lock
held:
  description: Whether I(owner) holds the lock after the run (in check mode, would hold).
  returned: always
  type: bool
  sample: true
lock:
  description: The lock after the run (null when no one holds it).
  returned: always
  type: dict
  contains:
    owner:
      description: The holder.
      type: str
      sample: awx-job-42
    started_at:
      description: When it was taken (ISO 8601, UTC).
      type: str
      sample: "2024-05-01T04:00:00Z"
    expires_at:
      description: When others may take it over (ISO 8601, UTC).
      type: str
      sample: "2024-05-01T08:00:00Z"
    token:
      description: Written anew by every take; the modules of the run check it (their C(lock) option).
      type: str
      sample: 6f1c0a3e9b2d4c8e
    heartbeat_at:
      description: The last sign of life of a module of the holding run (ISO 8601, UTC).
      type: str
      sample: "2024-05-01T04:12:30Z"
    stale_after:
      description:
        - The O(stale_after) the lock was taken with. The modules of the run write a heartbeat
          at most every quarter of it (they check the lock before every change all the same),
          and a resume waits for at least this much quiet.
      type: int
      sample: 120
    version:
      description: SSM version of the lock parameter (null in check mode before it exists).
      type: int
      sample: 3
resumed:
  description: Whether the owner resumed a lock it held (a new token fences the old run).
  returned: always
  type: bool
  sample: false
took_over_expired:
  description: Whether an expired lock was taken over.
  returned: always
  type: bool
  sample: false
previous_holder:
  description: The lock found at the start, when it belonged to someone (same fields as RV(lock)).
  returned: always
  type: dict
  sample: {"owner": "awx-job-41", "started_at": "2024-04-17T04:00:00Z",
           "expires_at": "2024-04-17T08:00:00Z", "version": 2}
holder:
  description: The lock that blocked this run (on failure because someone else holds it).
  returned: when the lock is held by another owner
  type: dict
  sample: {"owner": "awx-job-41", "started_at": "2024-05-01T04:00:00Z",
           "expires_at": "2024-05-01T08:00:00Z", "version": 2}
msg:
  description: What happened.
  returned: always
  type: str
  sample: lock taken by awx-job-42 until 2024-05-01T08:00:00Z
"""

import datetime
import json
import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.validation import check_inputs
from ansible_collections.dbops.aurora.plugins.module_utils.validation import ssm_path_problem

MAX_TTL = 7 * 24 * 3600


def check_arguments(module):
    params = module.params
    check_inputs(module, {"name": (ssm_path_problem, params["name"])})
    if not params["owner"] or len(params["owner"]) > 256:
        module.fail_json(msg="Invalid input: owner must be 1 to 256 characters")
    if not 1 <= params["ttl"] <= MAX_TTL:
        module.fail_json(msg="Invalid input: ttl must be between 1 and %d seconds, got %d"
                             % (MAX_TTL, params["ttl"]))
    if not 1 <= params["stale_after"] <= 86400:
        module.fail_json(msg="Invalid input: stale_after must be between 1 and 86400 seconds, "
                             "got %d" % params["stale_after"], invalid_fields=["stale_after"])


def read_lock(module, parameter):
    """The lock held in ``parameter`` as a dict (with its version), or None when free."""
    if parameter is None:
        return None
    try:
        lock = json.loads(parameter["Value"])
        expires = ssm.parse_iso(lock["expires_at"])
    except (ValueError, TypeError, KeyError):
        lock, expires = None, None
    if not isinstance(lock, dict) or not lock.get("owner") or expires is None:
        # Not written by this module: refuse to guess whether it still protects a run.
        module.fail_json(msg="lock parameter %s holds %r, not a lock written by refresh_lock "
                             "(JSON with owner, started_at, expires_at); delete it by hand "
                             "once you know no refresh is running"
                         % (parameter["Name"], parameter["Value"]))
    return {"owner": lock["owner"], "started_at": lock.get("started_at"),
            "expires_at": lock["expires_at"], "token": lock.get("token"),
            "heartbeat_at": lock.get("heartbeat_at") or lock.get("started_at"),
            "stale_after": lock.get("stale_after") if isinstance(lock.get("stale_after"), int) else None,
            "version": parameter["Version"]}


def expired(lock, now):
    return ssm.parse_iso(lock["expires_at"]) <= now


def new_lock(owner, ttl, now, stale_after):
    # stale_after travels in the lock: the fenced modules heartbeat at most every quarter of it
    # (plugins/module_utils/_lock.py), which is still four signs of life per stale_after.
    return {"owner": owner, "started_at": ssm.iso(now),
            "expires_at": ssm.iso(now + datetime.timedelta(seconds=ttl)),
            "token": uuid.uuid4().hex[:16], "heartbeat_at": ssm.iso(now),
            "stale_after": stale_after, "version": None}


def lock_value(lock):
    return json.dumps({k: lock[k] for k in ("owner", "started_at", "expires_at", "token",
                                            "heartbeat_at", "stale_after") if k in lock},
                      sort_keys=True)


def quiet_seconds(lock, now):
    """Seconds since the holding run last showed life (a heartbeat, or taking the lock)."""
    last = ssm.parse_iso(lock.get("heartbeat_at")) or ssm.parse_iso(lock.get("started_at"))
    return (now - last).total_seconds() if last else float("inf")


def held_message(lock, now):
    left = int((ssm.parse_iso(lock["expires_at"]) - now).total_seconds())
    return ("held by %s since %s until %s (%d seconds left)"
            % (lock["owner"], lock["started_at"], lock["expires_at"], left))


def write_lock(client, name, lock, read_version):
    """Compare-and-swap write of the lock; kept apart so tests can race it."""
    return ssm.write_parameter(client, name, lock_value(lock), read_version)


def take(module, client, current, now):
    """state=present: returns the result fields, or fails naming the holder."""
    params = module.params
    name, owner = params["name"], params["owner"]
    result = {"took_over_expired": False, "previous_holder": current, "resumed": False}
    resuming = bool(current) and current["owner"] == owner and not expired(current, now)
    if resuming:
        quiet = quiet_seconds(current, now)
        # The run heartbeats every quarter of the stale_after it took the lock with: a resume
        # asking for less quiet than that would mistake a throttled heartbeat for death.
        needed = max(params["stale_after"], current.get("stale_after") or 0)
        if quiet < needed:
            module.fail_json(
                msg="refresh lock %s is held by %s, and a module of that run showed life %d "
                    "seconds ago: it may still be acting (a killed or cancelled run leaves its "
                    "module running). Resume it once it has been quiet for stale_after=%d "
                    "seconds, after %s." % (
                        name, owner, quiet, needed,
                        ssm.iso(now + datetime.timedelta(seconds=needed - quiet))),
                holder=current, held=False)
    elif current and not expired(current, now):
        module.fail_json(msg="refresh lock %s is %s" % (name, held_message(current, now)),
                         holder=current, held=False)
    lock = new_lock(owner, params["ttl"], now, params["stale_after"])
    result["took_over_expired"] = current is not None and not resuming
    result["resumed"] = resuming
    verb = "would be taken" if module.check_mode else "taken"
    if resuming:
        verb += " again to resume the run (quiet for %d seconds; its old token %s is fenced)" % (
            quiet_seconds(current, now), current.get("token"))
    elif current:
        verb += " over from %s (expired %s)" % (current["owner"], current["expires_at"])
    if not module.check_mode:
        try:
            lock["version"] = write_lock(client, name, lock, current and current["version"])
        except ssm.ConcurrentChange as conflict:
            holder = read_lock(module, ssm.get_parameter(client, name))
            module.fail_json(msg="refresh lock %s was taken by someone else at the same moment "
                                 "(%s); it is %s" % (name, conflict.describe(),
                                                     held_message(holder, now) if holder
                                                     else "free again"),
                             holder=holder, held=False, conflict=conflict.as_dict())
    return dict(result, changed=True, held=True, lock=lock,
                msg="lock %s by %s until %s" % (verb, owner, lock["expires_at"]))


def release(module, client, current, now):
    """state=absent: deletes the lock when ``owner`` holds it."""
    name, owner = module.params["name"], module.params["owner"]
    result = {"took_over_expired": False, "previous_holder": current, "held": False}
    if current is None:
        return dict(result, changed=False, lock=None, msg="lock %s is not held" % name)
    if current["owner"] != owner:
        state = ("expired at %s" % current["expires_at"] if expired(current, now)
                 else "held until %s" % current["expires_at"])
        module.fail_json(msg="refresh lock %s belongs to %s (%s), not to %s: only its owner "
                             "releases it" % (name, current["owner"], state, owner),
                         holder=current, held=False)
    changed = True if module.check_mode else ssm.delete_parameter(client, name)
    return dict(result, changed=changed, lock=None,
                msg="lock %s %s by %s" % (name, "would be released" if module.check_mode
                                          else "released", owner))


def main():
    argument_spec = dict(
        name=dict(type="str", default="/dbops/acceptance/refresh/lock"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        owner=dict(type="str", required=True),
        ttl=dict(type="int", default=14400),
        stale_after=dict(type="int", default=120),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    check_arguments(module)
    client = retrying_client(module, "ssm")
    now = ssm.utcnow()
    try:
        current = read_lock(module, ssm.get_parameter(client, module.params["name"]))
        action = take if module.params["state"] == "present" else release
        result = action(module, client, current, now)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="SSM call failed on lock %s" % module.params["name"])
    result["name"] = module.params["name"]
    if module._diff:
        result["diff"] = {"before": current or {}, "after": result["lock"] or {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
