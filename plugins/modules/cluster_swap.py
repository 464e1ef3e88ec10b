#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_swap
version_added: 0.1.0
short_description: Swap a freshly restored Aurora cluster in under the canonical identifier
description:
  - Renames the cluster at I(canonical_identifier) to I(retained_identifier), then renames
    I(candidate_identifier) to I(canonical_identifier). Applications keep their endpoint name.
    The module waits for each rename to finish, until the cluster reports C(available) under
    its new identifier.
  - If the second rename fails, the first is renamed back, and the module fails saying so.
  - When no cluster exists at I(canonical_identifier) yet, the candidate is simply renamed.
  - "Record of progress: before the first rename the candidate gets the tags
    C(dbops:swap-canonical) (the canonical identifier), C(dbops:swap-candidate) (its own
    identifier before the swap), C(dbops:swap-retained-as) (where the canonical cluster goes),
    C(dbops:swap-started-at) (ISO 8601 UTC) and C(dbops:phase=swapping). Tags travel with a
    cluster through a rename."
  - A rerun after a crash between the two renames finds no cluster at the canonical
    identifier, the retained cluster, and the candidate carrying those tags. It then completes
    the swap, or with I(rollback=true) renames the retained cluster back.
  - A rerun after a completed swap finds the candidate's tags on the canonical cluster and no
    candidate, and reports C(changed=false). With I(rollback=true) it undoes the swap. The
    canonical cluster goes back to the candidate identifier and the retained cluster back to
    the canonical identifier.
  - When the swap is done, the cluster serving at the canonical identifier is tagged
    C(dbops:phase=serving) and the retained one C(dbops:phase=previous) with
    C(dbops:retired-at) (when it stopped serving, ISO 8601 UTC). After a rollback, or
    a failed second rename, the candidate loses its C(dbops:swap-*) tags. It is then tagged
    C(dbops:phase=rolled-back) or C(dbops:phase=swap-failed).
  - "Refuses, before any change, when any cluster involved is tagged
    C(environment=production): the acceptance side must never touch a production cluster."
  - Identifiers are compared in lower case, as RDS stores them.
  - In check mode nothing is renamed or tagged; the result lists the renames it would make.
author:
  - dbops.aurora contributors (@dbops)
options:
  canonical_identifier:
    description:
      - The identifier applications use (the cluster endpoint name).
    type: str
    required: true
  candidate_identifier:
    description:
      - The new cluster to swap in, for example C(<canonical>-<refresh id>).
    type: str
    required: true
  retained_identifier:
    description:
      - The identifier the current canonical cluster is renamed to and kept under for rollback.
      - Default C(<canonical_identifier>-previous-<refresh_id>), or the first of
        C(<canonical_identifier>-previous-<refresh_id>-2), C(-3), ... that no cluster holds
        (restoring a snapshot again reuses its refresh id). A swap under way keeps the name it
        started with.
      - Mutually exclusive with I(refresh_id).
    type: str
  refresh_id:
    description:
      - Suffix of the default I(retained_identifier).
      - Default the candidate's C(dbops:refresh-id) tag. Without that tag, the candidate
        identifier with a leading C(<canonical_identifier>-) removed.
    type: str
  rollback:
    description:
      - Undo instead of swap. After a crash between the renames, rename the retained cluster
        back to the canonical identifier. After a completed swap, rename the canonical cluster
        back to I(candidate_identifier) and the retained cluster back to the canonical
        identifier.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for each cluster to become C(available) (before and after a rename).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two status polls while waiting. Short polls keep the downtime short.
    type: float
    default: 2.0
extends_documentation_fragment:
  - dbops.aurora.fence
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Swap the restored cluster in
  dbops.aurora.cluster_swap:
    canonical_identifier: app-acc
    candidate_identifier: app-acc-r20240501
    refresh_id: r20240501
  register: swap

- name: Report the downtime
  ansible.builtin.debug:
    msg: "No cluster at app-acc for {{ swap.downtime_seconds }} s"

- name: Roll the refresh back (the previous cluster serves again)
  dbops.aurora.cluster_swap:
    canonical_identifier: app-acc
    candidate_identifier: app-acc-r20240501
    retained_identifier: app-acc-previous-r20240501
    rollback: true
    wait_timeout: 900
    poll_interval: 5
"""

RETURN = r"""
action:
  description:
    - What the run did (or would do in check mode).
    - One of C(swapped), C(first_deployment) (no canonical cluster existed), C(resumed)
      (completed after a crash between the renames), C(already_swapped), C(rolled_back),
      C(rolled_back_resume) (undid a swap interrupted between the renames),
      C(nothing_to_roll_back).
  returned: always
  type: str
  sample: swapped
canonical_identifier:
  description: The canonical identifier.
  returned: always
  type: str
  sample: app-acc
candidate_identifier:
  description: The candidate identifier.
  returned: always
  type: str
  sample: app-acc-r20240501
retained_identifier:
  description: The identifier the previous canonical cluster is kept under.
  returned: always
  type: str
  sample: app-acc-previous-r20240501
before:
  description: Identifier to cluster resource id (stable across renames) for the clusters
    involved, before the run.
  returned: always
  type: dict
  sample: {"app-acc": "cluster-AAAA", "app-acc-r20240501": "cluster-BBBB"}
after:
  description: The same mapping after the run (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"app-acc": "cluster-BBBB", "app-acc-previous-r20240501": "cluster-AAAA"}
renames:
  description: The renames made (or planned in check mode), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"from": "app-acc", "to": "app-acc-previous-r20240501"},
           {"from": "app-acc-r20240501", "to": "app-acc"}]
downtime_seconds:
  description:
    - Measured seconds with no available cluster at the canonical identifier. The window runs
      from the first rename to the cluster being C(available) again under the canonical
      identifier.
    - For a resumed swap it counts from C(dbops:swap-started-at). It is 0 when no rename took
      a serving cluster away (first deployment, nothing to do, check mode).
  returned: always
  type: float
  sample: 12.4
serving:
  description:
    - The cluster at the canonical identifier after the run as RDS describes it (snake_case
      keys, tags as a dict), so the caller can publish its endpoint without describing it
      again; null when none is there. In check mode, the cluster serving now.
  returned: always
  type: dict
  sample: {"db_cluster_identifier": "app-acc", "endpoint": "app-acc.cluster-abc.eu-west-1.rds.amazonaws.com",
           "port": 5432, "tags": {"environment": "acceptance"}}
rolled_back:
  description: Whether the first rename was renamed back after the second failed.
  returned: always
  type: bool
  sample: false
msg:
  description: What happened.
  returned: always
  type: str
  sample: swapped app-acc-r20240501 in as app-acc; previous cluster kept as app-acc-previous-r20240501
"""

import re
import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.dbops.aurora.plugins.module_utils import ssm
from ansible_collections.dbops.aurora.plugins.module_utils import conventions
from ansible_collections.dbops.aurora.plugins.module_utils.conventions import RETIRED_AT_TAG
from ansible_collections.dbops.aurora.plugins.module_utils.conventions import is_production as tagged_production
from ansible_collections.dbops.aurora.plugins.module_utils._lock import FENCE_OPTION, Fence
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_cluster
from ansible_collections.dbops.aurora.plugins.module_utils.rds import retrying_client
from ansible_collections.dbops.aurora.plugins.module_utils.rds import described
from ansible_collections.dbops.aurora.plugins.module_utils.rds import tags_of
from ansible_collections.dbops.aurora.plugins.module_utils.rds import wait_until
from ansible_collections.dbops.aurora.plugins.module_utils.validation import check_inputs
from ansible_collections.dbops.aurora.plugins.module_utils.validation import rds_identifier_problem

MARK_CANONICAL = conventions.SWAP_CANONICAL_TAG
MARK_CANDIDATE = conventions.SWAP_CANDIDATE_TAG
MARK_RETAINED = conventions.SWAP_RETAINED_TAG
MARK_STARTED = conventions.SWAP_STARTED_TAG
MARKS = conventions.SWAP_TAGS
PHASE = conventions.PHASE_TAG
REFRESH_ID = conventions.REFRESH_ID_TAG


class SwapFailed(Exception):
    """A rename or wait that leaves the swap unfinished; the message says what to do."""


def is_production(cluster):
    return tagged_production(tags_of(cluster))


class Swap:
    """The three identifiers, the clusters found there, and what the run has done so far."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        params = module.params
        self.canonical = params["canonical_identifier"].lower()
        self.candidate = params["candidate_identifier"].lower()
        self.c = describe_cluster(client, self.canonical)
        self.n = describe_cluster(client, self.candidate)
        self.retained = retained_identifier(module, self)
        self.r = describe_cluster(client, self.retained)
        self.before = self.mapping()
        self.renames = []
        self.downtime = 0.0
        self.rolled_back = False
        self.fence = Fence(module)

    def mapping(self):
        """Identifier -> resource id of the clusters as last seen."""
        found = {}
        for cluster in (self.c, self.n, self.r):
            if cluster:
                found[cluster["DBClusterIdentifier"]] = cluster["DbClusterResourceId"]
        return found

    def candidate_at_canonical(self):
        """True when the cluster at the canonical identifier is our candidate, swapped in."""
        tags = tags_of(self.c)
        return bool(self.c) and tags.get(MARK_CANDIDATE) == self.candidate \
            and tags.get(MARK_CANONICAL) == self.canonical

    def candidate_marked(self):
        """True when the candidate carries the tags of a swap into the canonical identifier."""
        # A cluster swapped in long ago keeps the tags of that swap, made under another name.
        tags = tags_of(self.n)
        return bool(self.n) and tags.get(MARK_CANONICAL) == self.canonical \
            and tags.get(MARK_CANDIDATE) == self.candidate

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result(), **extra))

    def result(self):
        return {"canonical_identifier": self.canonical, "candidate_identifier": self.candidate,
                "retained_identifier": self.retained, "before": self.before,
                "renames": self.renames, "downtime_seconds": round(self.downtime, 2),
                "rolled_back": self.rolled_back}


# --- inputs ------------------------------------------------------------------------------

def check_arguments(module):
    params = module.params
    check_inputs(module, {
        "canonical_identifier": (rds_identifier_problem, params["canonical_identifier"]),
        "candidate_identifier": (rds_identifier_problem, params["candidate_identifier"]),
        "retained_identifier": (rds_identifier_problem, params["retained_identifier"]),
    })
    if params["canonical_identifier"].lower() == params["candidate_identifier"].lower():
        module.fail_json(msg="Invalid input: candidate_identifier must differ from "
                             "canonical_identifier, both are %s" % params["canonical_identifier"])
    if params["wait_timeout"] < 1:
        module.fail_json(msg="Invalid input: wait_timeout must be at least 1 second")
    if not 0.0 < params["poll_interval"] <= 60.0:
        module.fail_json(msg="Invalid input: poll_interval must be more than 0 and at most 60 "
                             "seconds")


def derived_retained(module, swap):
    """(identifier, what it came from) for the retained identifier from the options."""
    params = module.params
    if params["retained_identifier"]:
        return params["retained_identifier"].lower(), "retained_identifier"
    suffix, source = params["refresh_id"], "refresh_id"
    if not suffix and tags_of(swap.n).get(REFRESH_ID):
        suffix, source = tags_of(swap.n)[REFRESH_ID], "the candidate's %s tag" % REFRESH_ID
    if not suffix:
        prefix = swap.canonical + "-"
        suffix = swap.candidate[len(prefix):] if swap.candidate.startswith(prefix) \
            else swap.candidate
        source = "candidate_identifier"
    return ("%s-previous-%s" % (swap.canonical, suffix)).lower(), source


def retained_identifier(module, swap):
    """Where the canonical cluster goes: a swap under way decides, else the options."""
    marked = None
    if swap.candidate_marked():
        marked = tags_of(swap.n).get(MARK_RETAINED)
    elif swap.candidate_at_canonical():
        marked = tags_of(swap.c).get(MARK_RETAINED)
    explicit = module.params["retained_identifier"] or module.params["refresh_id"]
    retained, source = derived_retained(module, swap)
    # A name the module chose as free (<retained>-N) belongs to the same swap.
    same_swap = marked == retained or (source != "retained_identifier" and bool(marked)
                                       and re.match(re.escape(retained) + r"-\d+$", marked))
    if marked and explicit and not same_swap:
        module.fail_json(msg="Invalid input: a swap of %s into %s already retained (or is "
                             "retaining) the canonical cluster as %s (tag %s), but %s gives %s"
                             % (swap.candidate, swap.canonical, marked, MARK_RETAINED, source,
                                retained))
    if marked:
        return marked
    if source != "retained_identifier" and not module.params["rollback"]:
        retained = first_free(swap, retained)
    problem = rds_identifier_problem(retained)
    if problem:
        module.fail_json(msg="Invalid input: retained identifier %r (from %s) %s; pass a "
                             "shorter refresh_id or a retained_identifier"
                             % (retained, source, problem))
    if retained in (swap.canonical, swap.candidate):
        module.fail_json(msg="Invalid input: retained identifier %s must differ from the "
                             "canonical and candidate identifiers" % retained)
    return retained


def first_free(swap, base):
    """``base``, or ``base``-2, -3, ... when taken: restoring a snapshot again (a pin) reuses its
    refresh id while an older cluster may still be kept under <canonical>-previous-<id>."""
    for name in [base] + ["%s-%d" % (base, n) for n in range(2, 100)]:
        if name in (swap.canonical, swap.candidate):
            continue
        if describe_cluster(swap.client, name) is None:
            return name
    swap.module.fail_json(msg="no free identifier for the retained cluster: %s and %s-2 to "
                              "%s-99 are all taken" % (base, base, base))


def guard_production(swap):
    for cluster in (swap.c, swap.n, swap.r):
        if is_production(cluster):
            swap.fail("refusing to touch cluster %s: it is tagged environment=production, and "
                      "the acceptance side must never rename a production cluster"
                      % cluster["DBClusterIdentifier"])


# --- deciding ------------------------------------------------------------------------------

def decide(swap, rollback):
    """Which action the state of the three identifiers calls for; fails when it is unclear."""
    if swap.n is None and not swap.candidate_at_canonical():
        swap.fail("candidate cluster %s does not exist, and the cluster at %s is not it "
                  "after a swap" % (swap.candidate, swap.canonical))
    if rollback:
        return decide_rollback(swap)
    if swap.n is None:
        return "already_swapped"
    if swap.c is None and swap.r is not None:
        if swap.candidate_marked():
            return "resumed"
        swap.fail("no cluster at %s, a cluster at %s, and candidate %s carries no %s tag: "
                  "refusing to guess which swap this is" % (swap.canonical, swap.retained,
                                                            swap.candidate, MARK_CANONICAL))
    if swap.c is None:
        return "first_deployment"
    if swap.r is not None:
        swap.fail("retained identifier %s is already taken by another cluster; pass another "
                  "refresh_id or retained_identifier" % swap.retained)
    return "swapped"


def decide_rollback(swap):
    if swap.n is None:  # the candidate serves at the canonical identifier
        if swap.r is None:
            swap.fail("cannot roll back: the retained cluster %s does not exist"
                      % swap.retained)
        return "rolled_back"
    if swap.c is None and swap.r is not None and swap.candidate_marked():
        return "rolled_back_resume"
    return "nothing_to_roll_back"


# --- renaming ----------------------------------------------------------------------------

def rename_cluster(client, old, new, resource_id):
    """Ask RDS to rename ``old`` to ``new`` at once."""
    try:
        client.modify_db_cluster(DBClusterIdentifier=old, NewDBClusterIdentifier=new,
                                 ApplyImmediately=True, aws_retry=True)
    except botocore.exceptions.ClientError:
        # A retried request whose first attempt went through finds the old name gone.
        moved = describe_cluster(client, new)
        if moved and moved["DbClusterResourceId"] == resource_id:
            return
        raise


def wait_available(swap, identifier, resource_id):
    """The cluster once ``available`` at ``identifier``; SwapFailed after wait_timeout."""
    params = swap.module.params

    def check():
        swap.fence.check()  # a heartbeat at every poll
        cluster = describe_cluster(swap.client, identifier)
        if cluster and cluster["DbClusterResourceId"] == resource_id \
                and cluster["Status"] == "available":
            return cluster
        return None

    cluster, dummy, seconds = wait_until(check, params["wait_timeout"],
                                         delay=params["poll_interval"])
    if not cluster:
        raise SwapFailed("cluster %s was not available at %s after %s seconds; rerun to "
                         "continue" % (resource_id, identifier, seconds))
    return cluster


def move(swap, old, new, resource_id):
    """Rename and wait for the rename to finish."""
    swap.fence.check()
    rename_cluster(swap.client, old, new, resource_id)
    swap.renames.append({"from": old, "to": new})
    return wait_available(swap, new, resource_id)


def ensure_available(swap, cluster):
    if cluster["Status"] != "available":
        return wait_available(swap, cluster["DBClusterIdentifier"],
                              cluster["DbClusterResourceId"])
    return cluster


def two_step(swap, outgoing, away, incoming, started=None, forward=True):
    """Move ``outgoing`` from the canonical identifier to ``away`` and ``incoming`` in.

    ``outgoing`` None means it is already away (a resumed swap).  When the second rename is
    refused, the cluster sent away comes back to the canonical identifier.  ``forward`` is
    False when undoing a swap (the incoming cluster is then the retained one, not a
    candidate to untag).  Returns the incoming cluster as it serves at the canonical
    identifier.
    """
    start = time.monotonic() if started is None else started
    away_rid = (outgoing or swap.r)["DbClusterResourceId"]
    if outgoing is not None:
        move(swap, swap.canonical, away, away_rid)
    incoming_rid = incoming["DbClusterResourceId"]
    swap.fence.check()
    try:
        rename_cluster(swap.client, incoming["DBClusterIdentifier"], swap.canonical,
                       incoming_rid)
    except botocore.exceptions.ClientError as error:
        rename_back(swap, away, away_rid, incoming["DBClusterIdentifier"], error, start,
                    forward)
    swap.renames.append({"from": incoming["DBClusterIdentifier"], "to": swap.canonical})
    serving = wait_available(swap, swap.canonical, incoming_rid)
    swap.downtime = time.monotonic() - start
    return serving


def rename_back(swap, away, away_rid, incoming, error, start, forward):
    """The second rename failed: put the first back, then fail either way."""
    reason = error.response.get("Error", {}).get("Message", str(error))
    try:
        move(swap, away, swap.canonical, away_rid)
    except (botocore.exceptions.ClientError, SwapFailed) as back_error:
        swap.downtime = time.monotonic() - start
        swap.fail("renaming %s to %s failed (%s), and renaming %s back to %s failed too (%s): "
                  "no cluster serves at %s; the cluster that served there is at %s. Fix the "
                  "cause and rerun, or rerun with rollback: true"
                  % (incoming, swap.canonical, reason, away, swap.canonical, back_error,
                     swap.canonical, away))
    swap.downtime = time.monotonic() - start
    swap.rolled_back = True
    if forward:
        untag_candidate(swap, incoming, "swap-failed")
    swap.fail("renaming %s to %s failed (%s); renamed %s back to %s, which serves as before"
              % (incoming, swap.canonical, reason, away, swap.canonical))


# --- tagging -----------------------------------------------------------------------------

def add_tags(swap, identifier, tags):
    cluster = describe_cluster(swap.client, identifier)
    if cluster is None:  # gone meanwhile: nothing left to record progress on
        return
    swap.client.add_tags_to_resource(ResourceName=cluster["DBClusterArn"], aws_retry=True,
                                     Tags=ansible_dict_to_boto3_tag_list(tags))


def untag_candidate(swap, identifier, phase):
    """The candidate is no longer being swapped in: drop the markers, record why."""
    cluster = describe_cluster(swap.client, identifier)
    if cluster is None:
        return
    swap.client.remove_tags_from_resource(ResourceName=cluster["DBClusterArn"],
                                          TagKeys=list(MARKS), aws_retry=True)
    add_tags(swap, identifier, {PHASE: phase})


def mark_candidate(swap, with_retained):
    """Written before the first rename, so a rerun after a crash knows what was under way."""
    marks = {MARK_CANONICAL: swap.canonical, MARK_CANDIDATE: swap.candidate,
             MARK_STARTED: ssm.iso(ssm.utcnow()), PHASE: "swapping"}
    if with_retained:
        marks[MARK_RETAINED] = swap.retained
    add_tags(swap, swap.candidate, marks)


def converge_phases(swap, serving, previous):
    """Tag the serving and retained clusters; True when a tag had to change.  The retained one
    also records when it stopped serving (retention and rollback go by that)."""
    changed = False
    for cluster, phase in ((serving, "serving"), (previous, "previous")):
        if cluster and tags_of(cluster).get(PHASE) != phase:
            changed = True
            tags = {PHASE: phase}
            if phase == "previous":
                tags[RETIRED_AT_TAG] = ssm.iso(ssm.utcnow())
            if not swap.module.check_mode:
                add_tags(swap, cluster["DBClusterIdentifier"], tags)
    return changed


# --- the actions ---------------------------------------------------------------------------

def plan_renames(swap, action):
    """The renames an action makes, for check mode and for the message."""
    plans = {
        "swapped": [(swap.canonical, swap.retained), (swap.candidate, swap.canonical)],
        "first_deployment": [(swap.candidate, swap.canonical)],
        "resumed": [(swap.candidate, swap.canonical)],
        "rolled_back": [(swap.canonical, swap.candidate), (swap.retained, swap.canonical)],
        "rolled_back_resume": [(swap.retained, swap.canonical)],
    }
    return [{"from": old, "to": new} for old, new in plans.get(action, [])]


def predicted_after(swap, renames):
    after = dict(swap.before)
    for rename in renames:
        after[rename["to"]] = after.pop(rename["from"])
    return after


def started_at(swap):
    """time.monotonic() of the mark written before the first rename of a resumed swap."""
    started = ssm.parse_iso(tags_of(swap.n).get(MARK_STARTED))
    if started is None:
        return None
    return time.monotonic() - max(0.0, (ssm.utcnow() - started).total_seconds())


def run(swap, action):
    """Carry ``action`` out; returns whether anything changed."""
    if action == "nothing_to_roll_back":
        return False
    if action == "already_swapped":
        return converge_phases(swap, swap.c, swap.r)
    if swap.module.check_mode:
        swap.renames = plan_renames(swap, action)
        return True
    if action in ("swapped", "first_deployment"):
        incoming = ensure_available(swap, swap.n)
        outgoing = ensure_available(swap, swap.c) if swap.c else None
        mark_candidate(swap, with_retained=outgoing is not None)
        if outgoing is None:
            move(swap, swap.candidate, swap.canonical, incoming["DbClusterResourceId"])
            serving, previous = describe_cluster(swap.client, swap.canonical), None
        else:
            serving = two_step(swap, outgoing, swap.retained, incoming)
            previous = describe_cluster(swap.client, swap.retained)
        converge_phases(swap, serving, previous)
    elif action == "resumed":
        incoming = ensure_available(swap, swap.n)
        serving = two_step(swap, None, swap.retained, incoming, started=started_at(swap))
        converge_phases(swap, serving, describe_cluster(swap.client, swap.retained))
    elif action == "rolled_back":
        outgoing, incoming = ensure_available(swap, swap.c), ensure_available(swap, swap.r)
        two_step(swap, outgoing, swap.candidate, incoming, forward=False)
        untag_candidate(swap, swap.candidate, "rolled-back")
        add_tags(swap, swap.canonical, {PHASE: "serving"})
    elif action == "rolled_back_resume":
        incoming = ensure_available(swap, swap.r)
        start = started_at(swap)
        move(swap, swap.retained, swap.canonical, incoming["DbClusterResourceId"])
        swap.downtime = time.monotonic() - start if start is not None else 0.0
        untag_candidate(swap, swap.candidate, "rolled-back")
        add_tags(swap, swap.canonical, {PHASE: "serving"})
    return True


MESSAGES = {
    "swapped": "swapped {candidate} in as {canonical}; previous cluster kept as {retained}",
    "first_deployment": "no cluster at {canonical} yet: renamed {candidate} to {canonical}",
    "resumed": "completed an interrupted swap: {candidate} serves as {canonical}, previous "
               "cluster kept as {retained}",
    "already_swapped": "{candidate} already serves as {canonical}",
    "rolled_back": "rolled back: {retained} serves as {canonical} again, {candidate} is back "
                   "under its own identifier",
    "rolled_back_resume": "rolled back an interrupted swap: {retained} serves as {canonical} "
                          "again",
    "nothing_to_roll_back": "nothing to roll back: {candidate} was not swapped in as "
                            "{canonical}",
}


def final_state(swap):
    """(identifier -> resource id after the run, the cluster now serving or None)."""
    found, serving = {}, None
    for identifier in (swap.canonical, swap.candidate, swap.retained):
        cluster = describe_cluster(swap.client, identifier)
        if cluster:
            found[identifier] = cluster["DbClusterResourceId"]
            if identifier == swap.canonical:
                serving = cluster
    return found, serving


def main():
    argument_spec = dict(
        canonical_identifier=dict(type="str", required=True),
        candidate_identifier=dict(type="str", required=True),
        retained_identifier=dict(type="str"),
        refresh_id=dict(type="str"),
        rollback=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        lock=FENCE_OPTION,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("retained_identifier", "refresh_id")])
    check_arguments(module)
    client = retrying_client(module, "rds")
    swap = None
    try:
        swap = Swap(module, client)
        guard_production(swap)
        action = decide(swap, module.params["rollback"])
        changed = run(swap, action)
        if module.check_mode:
            after, serving = predicted_after(swap, swap.renames), swap.c
        else:
            after, serving = final_state(swap)
    except SwapFailed as error:
        swap.fail(str(error))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="RDS call failed during the swap",
                             **(swap.result() if swap else {}))
    result = dict(swap.result(), changed=changed, action=action, after=after,
                  serving=described(serving),
                  msg=MESSAGES[action].format(canonical=swap.canonical,
                                              candidate=swap.candidate,
                                              retained=swap.retained))
    if module.check_mode and changed:
        result["msg"] = "check mode, nothing renamed: would have " + result["msg"]
    if module._diff:
        result["diff"] = {"before": swap.before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
