# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's conventions in one place: the tags the refresh keeps its record in, the
names it gives clusters, and the production rule.  Modules import them; roles reach them
through the filters in plugins/filter/refresh.py."""

import hashlib
import re

# Every tag the refresh owns starts with this prefix; provisioning keeps such tags as they are.
REFRESH_TAG_PREFIX = "dbops:"
SOURCE_SNAPSHOT_TAG = "dbops:source-snapshot"
SOURCE_CREATED_TAG = "dbops:source-created"
REFRESH_ID_TAG = "dbops:refresh-id"
PHASE_TAG = "dbops:phase"
CANONICAL_TAG = "dbops:canonical"
# The prefix a refresh names its new cluster's instances with (free names, set once per run).
INSTANCE_PREFIX_TAG = "dbops:instance-prefix"
# When a cluster stopped serving (put aside by a swap): retention and rollback go by it, not
# by creation time (a rollback puts an older cluster back to serve).
RETIRED_AT_TAG = "dbops:retired-at"

# A cluster the refresh kept for rollback is <canonical>-previous-<refresh id>; one a rollback
# put aside is <canonical>-undone-<refresh id>; a new cluster is <canonical>-<refresh id>.
PREVIOUS_INFIX = "-previous-"
UNDONE_INFIX = "-undone-"

# What a swap writes on its candidate before the first rename, so a rerun after a crash between
# the two renames knows which swap was under way and where the serving cluster went.
SWAP_CANONICAL_TAG = "dbops:swap-canonical"
SWAP_CANDIDATE_TAG = "dbops:swap-candidate"
SWAP_RETAINED_TAG = "dbops:swap-retained-as"
SWAP_STARTED_TAG = "dbops:swap-started-at"
SWAP_TAGS = (SWAP_CANONICAL_TAG, SWAP_CANDIDATE_TAG, SWAP_RETAINED_TAG, SWAP_STARTED_TAG)


# What refresh_id returns: the suffix of every name a refresh gives.
REFRESH_ID_PATTERN = "r[0-9a-f]{8}"


def refresh_id(snapshot):
    """A short, stable id for a refresh from its snapshot (ARN or name): r + 8 hex digits."""
    return "r" + hashlib.sha256(str(snapshot).encode("utf-8")).hexdigest()[:8]


def candidate_name(canonical, snapshot):
    """The new cluster a refresh of ``snapshot`` restores, and acceptance's copy of it."""
    return "%s-%s" % (canonical, refresh_id(snapshot))


def refresh_record(snapshot, created=None, phase=None, instance_prefix=None, with_source=True,
                   identifier=None):
    """The tags a refresh writes on what it makes from ``snapshot`` (acceptance's copy, the new
    cluster): its record of progress, read back by a rerun.  ``with_source=False`` leaves out
    dbops:source-snapshot, which cluster_restore writes itself (the snapshot it restored).
    ``identifier`` is the refresh id when it is not the snapshot's (a clone's, clone_refresh_id)."""
    tags = {REFRESH_ID_TAG: identifier or refresh_id(snapshot)}
    if with_source:
        tags[SOURCE_SNAPSHOT_TAG] = str(snapshot)
    for key, value in ((SOURCE_CREATED_TAG, created), (PHASE_TAG, phase),
                       (INSTANCE_PREFIX_TAG, instance_prefix)):
        if value:
            tags[key] = str(value)
    return tags


def record_of(tags):
    """What a refresh recorded in ``tags`` (none for what it did not write)."""
    tags = tags or {}
    return {"refresh_id": tags.get(REFRESH_ID_TAG), "source_snapshot": tags.get(SOURCE_SNAPSHOT_TAG),
            "source_created": tags.get(SOURCE_CREATED_TAG), "phase": tags.get(PHASE_TAG),
            "retired_at": tags.get(RETIRED_AT_TAG), "instance_prefix": tags.get(INSTANCE_PREFIX_TAG)}


def is_refresh_id(value):
    """r + 8 hex digits, as refresh_id makes them."""
    return bool(re.match("^%s$" % REFRESH_ID_PATTERN, str(value)))


def candidate_pattern(canonical):
    """A regular expression matching the names of a refresh's new clusters and snapshot copies."""
    return "^%s-%s$" % (re.escape(canonical.lower()), REFRESH_ID_PATTERN)


def previous_prefix(canonical):
    return canonical + PREVIOUS_INFIX


def undone_prefix(canonical):
    return canonical + UNDONE_INFIX


def retired_first(clusters, canonical, infixes=(PREVIOUS_INFIX, UNDONE_INFIX)):
    """The clusters put aside from ``canonical`` (named <canonical>-previous-* or -undone-*),
    not tagged production, the one that stopped serving last first.

    ``clusters`` are as amazon.aws.rds_cluster_info returns them (tags as a dict).  A cluster
    without the retired-at tag (retired before the tag existed) counts by creation time."""
    prefixes = tuple((canonical + infix).lower() for infix in infixes)

    def retired(cluster):
        tags = cluster.get("tags") or {}
        return str(tags.get(RETIRED_AT_TAG) or cluster.get("cluster_create_time") or "")

    found = [cluster for cluster in clusters or []
             if str(cluster.get("db_cluster_identifier", "")).lower().startswith(prefixes)
             and not is_production(cluster.get("tags"))]
    return sorted(found, key=retired, reverse=True)


def interrupted_swap(clusters, canonical):
    """The cluster a swap into ``canonical`` was bringing in when it stopped between its two
    renames: nothing serves at ``canonical`` and the cluster still carries that swap's marks
    under its own name.  None when no swap is half done.  ``clusters`` as rds_cluster_info."""
    canonical = canonical.lower()
    names = [str(cluster.get("db_cluster_identifier", "")).lower() for cluster in clusters or []]
    if canonical in names:
        return None
    for cluster, name in zip(clusters or [], names):
        tags = cluster.get("tags") or {}
        if tags.get(SWAP_CANONICAL_TAG) == canonical and tags.get(SWAP_CANDIDATE_TAG) == name \
                and not is_production(tags):
            return cluster
    return None


def rollback_plan(clusters, canonical, fallback_id):
    """What a rollback swaps, as the options of cluster_swap (plus ``resumes``): None when
    nothing is left to roll back to.

    - A rollback that stopped between its renames (the marked cluster is being put back and
      the one it replaces went to -undone-): finish it.
    - A refresh that stopped between its renames: undo it, the retained cluster goes back.
    - Otherwise the cluster retired last comes back; the serving one is kept as
      <canonical>-undone-<its refresh id, else ``fallback_id``>."""
    halfway = interrupted_swap(clusters, canonical)
    if halfway is not None:
        retained = (halfway.get("tags") or {}).get(SWAP_RETAINED_TAG, "")
        undoing_refresh = not retained.startswith(undone_prefix(canonical.lower()))
        return {"candidate_identifier": halfway["db_cluster_identifier"],
                "retained_identifier": None, "rollback": undoing_refresh, "resumes": True}
    retired = retired_first(clusters, canonical)
    if not retired:
        return None
    serving = [cluster for cluster in clusters or []
               if str(cluster.get("db_cluster_identifier", "")).lower() == canonical.lower()]
    serving_id = ((serving[0].get("tags") or {}).get(REFRESH_ID_TAG) if serving else None)
    return {"candidate_identifier": retired[0]["db_cluster_identifier"],
            "retained_identifier": undone_prefix(canonical.lower()) + (serving_id or fallback_id),
            "rollback": False, "resumes": False}


# A candidate a failed or undone run left, kept for a rerun of the same snapshot to reuse.
LEFT_BEHIND_PHASES = ("candidate", "swap-failed", "rolled-back")


def is_candidate_name(identifier, canonical):
    """<canonical>-<refresh id>: the name a refresh gives its new cluster."""
    return bool(re.match(candidate_pattern(canonical), str(identifier).lower()))


def retention_plan(clusters, canonical, keep_previous, refresh_id=None):
    """(kept, expired): what retention keeps and deletes, each a list of (cluster, reason).

    Kept: the ``keep_previous`` clusters put aside last (-previous-*, -undone-*, by
    dbops:retired-at).  Expired: the older ones, and candidates that failed or undone runs left
    (<canonical>-r<id> in a LEFT_BEHIND_PHASES phase) unless they belong to ``refresh_id``,
    which a rerun reuses.  Never a cluster tagged production.  ``clusters`` as
    rds_cluster_info returns them."""
    kept, expired = [], []
    for index, cluster in enumerate(retired_first(clusters, canonical)):
        if index < keep_previous:
            kept.append((cluster, "one of the %d put aside last" % keep_previous))
        else:
            expired.append((cluster, "put aside before the %d kept" % keep_previous))
    for cluster in clusters or []:
        tags = cluster.get("tags") or {}
        if not is_candidate_name(cluster.get("db_cluster_identifier", ""), canonical) \
                or is_production(tags):
            continue
        if tags.get(PHASE_TAG) in LEFT_BEHIND_PHASES:
            if refresh_id and tags.get(REFRESH_ID_TAG) == refresh_id:
                kept.append((cluster, "left by a run of this refresh, which a rerun reuses"))
            else:
                expired.append((cluster, "left by a %s run of another refresh"
                                % tags.get(PHASE_TAG)))
    return kept, expired


# A clone refresh (refresh_method: clone) restores production's cluster, shared through AWS RAM,
# copy-on-write at its latest restorable time.  AWS allows one cross-account clone of a lineage
# (clusters with one CloneGroupId) per account, so the previous clone cannot be kept: it is
# snapshotted as <canonical>-final-<its refresh id> (the final snapshot a rollback restores, as
# the cluster <canonical>-previous-<that refresh id>-f) and deleted before the new clone is made.
SOURCE_CLUSTER_TAG = "dbops:source-cluster"
FINAL_INFIX = "-final-"
# A cluster restored from a final snapshot: a previous cluster whose name no swap gives.
FINAL_RESTORE_SUFFIX = "-f"
CLONE_STATES = ("cloning", "serving")


def clone_refresh_id(record, source_cluster, started_at):
    """This clone run's refresh id: the one in ``record`` (the clone pointer, a dict) when a run
    of the same source left it unfinished (state cloning), so a rerun after a crash resumes that
    clone; otherwise a new one from the source and this run's start, computed once per run."""
    record = record or {}
    if record.get("state") == "cloning" and record.get("source_cluster") == source_cluster \
            and is_refresh_id(record.get("refresh_id")):
        return record["refresh_id"]
    return refresh_id("%s@%s" % (source_cluster, started_at))


def clone_record(refresh_id_, source_cluster, state, restorable_time=None, started_at=None):
    """The clone pointer's value: what was cloned, from where and when (JSON in SSM)."""
    if state not in CLONE_STATES:
        raise ValueError("clone state must be one of %s" % ", ".join(CLONE_STATES))
    return {"refresh_id": refresh_id_, "source_cluster": source_cluster, "state": state,
            "restorable_time": restorable_time, "started_at": started_at}


def final_snapshot_name(canonical, refresh_id_):
    """The snapshot a clone refresh keeps of a clone it deletes (the rollback restores it)."""
    return canonical + FINAL_INFIX + refresh_id_


def final_snapshot_pattern(canonical):
    return "^%s(%s)$" % (re.escape((canonical + FINAL_INFIX).lower()), REFRESH_ID_PATTERN)


def final_restore_name(canonical, snapshot_name):
    """The cluster a rollback restores a final snapshot as: <canonical>-previous-<id>-f, a
    previous cluster to retention and rollback, and never a name a swap gives (-previous-<id>,
    -previous-<id>-N), so it cannot clash with the cluster the same refresh put aside."""
    match = re.match(final_snapshot_pattern(canonical), str(snapshot_name).lower())
    if match is None:
        raise ValueError("%r is not a final snapshot of %s" % (snapshot_name, canonical))
    return previous_prefix(canonical.lower()) + match.group(1) + FINAL_RESTORE_SUFFIX


def belongs_to(identifier, canonical):
    """Whether a cluster name is one this environment's refresh gives (canonical, a candidate,
    a previous or undone cluster)."""
    name, canonical = str(identifier).lower(), canonical.lower()
    return (name == canonical or is_candidate_name(name, canonical)
            or name.startswith((previous_prefix(canonical), undone_prefix(canonical))))


def lineage_plan(clusters, canonical, clone_group_id, keep_identifier=None):
    """(own, foreign): this account's clusters in the source's clone lineage (same
    CloneGroupId).  Own ones belong to this environment and are retired before a new clone
    (except ``keep_identifier``, the candidate a rerun resumes); a foreign one makes a clone
    impossible (one per lineage per account).  ``clusters`` as DescribeDBClusters returns them."""
    own, foreign = [], []
    for cluster in clusters or []:
        if not clone_group_id or cluster.get("CloneGroupId") != clone_group_id:
            continue
        identifier = cluster["DBClusterIdentifier"]
        if keep_identifier and identifier.lower() == keep_identifier.lower():
            continue
        tags = {tag["Key"]: tag["Value"] for tag in cluster.get("TagList", [])}
        if belongs_to(identifier, canonical) and not is_production(tags):
            own.append(cluster)
        else:
            foreign.append(cluster)
    return own, foreign


def final_snapshot_to_restore(snapshots, clusters, canonical):
    """The final snapshot a rollback restores first, or None: the newest available one of
    ``canonical``'s (by dbops:retired-at), when it was not restored yet, no swap is
    half done and no previous cluster stopped serving after it; with its tags as a dict and
    ``restore_identifier``, the cluster to restore it as (final_restore_name).
    ``snapshots`` and ``clusters`` as amazon.aws's rds_snapshot_info and rds_cluster_info
    return them."""
    if interrupted_swap(clusters, canonical) is not None:
        return None
    pattern = final_snapshot_pattern(canonical)
    names = {str(cluster.get("db_cluster_identifier", "")).lower() for cluster in clusters or []}

    def listed_tags(resource):
        # rds_snapshot_info fills tag_list (its tags may stay empty); rds_cluster_info fills tags.
        return resource.get("tags") or {tag["key"]: tag["value"] for tag in resource.get("tag_list") or []}

    def retired(resource):
        return str(listed_tags(resource).get(RETIRED_AT_TAG) or "")

    finals = sorted((snapshot for snapshot in snapshots or []
                     if re.match(pattern, str(snapshot.get("db_cluster_snapshot_identifier", "")).lower())
                     and snapshot.get("status") == "available"), key=retired, reverse=True)
    if not finals:
        return None
    newest = finals[0]
    restore_identifier = final_restore_name(canonical, newest["db_cluster_snapshot_identifier"])
    if restore_identifier in names:
        return None  # restored already: the rollback plan finds the cluster
    previous = retired_first(clusters, canonical)
    if previous and retired(previous[0]) >= retired(newest):
        return None
    return dict(newest, tags=listed_tags(newest), restore_identifier=restore_identifier)


# Sanitise-then-share (production side): production's snapshot is restored as a temporary
# cluster <source>-sanitize, masked, and snapshotted as <snapshot>-sanitized, tagged so; only
# that one is shared.  The name carries the mark across accounts (tags of a shared snapshot are
# not visible to the account it is shared with).
SANITIZE_CLUSTER_SUFFIX = "-sanitize"
SANITIZED_SNAPSHOT_SUFFIX = "-sanitized"
SANITIZED_TAG = "dbops:sanitized"
SANITIZE_PHASE = "sanitize"


def sanitize_tags(kind):
    """The tags a sanitising share gives: 'temporary' (its cluster) or 'sanitized' (its snapshot)."""
    return {PHASE_TAG: SANITIZE_PHASE} if kind == "temporary" else {SANITIZED_TAG: "true"}


def is_sanitize_temporary(tags):
    """Only a cluster tagged as a sanitising share's, and not production's, may be removed as one."""
    return (tags or {}).get(PHASE_TAG) == SANITIZE_PHASE and not is_production(tags)


def sanitize_cluster_name(source_cluster):
    """The temporary cluster a sanitising share masks (one per source cluster at a time)."""
    return source_cluster + SANITIZE_CLUSTER_SUFFIX


def sanitized_snapshot_name(snapshot):
    return snapshot + SANITIZED_SNAPSHOT_SUFFIX


def sanitized_snapshot_pattern():
    """What a sanitised snapshot's name ends with, re-encrypted (-shareable) or not."""
    return re.escape(SANITIZED_SNAPSHOT_SUFFIX) + "(-shareable)?$"


def is_production(tags):
    """The production rule: never restore over, swap out or delete what is tagged so."""
    return any(str(key).lower() == "environment" and str(value).lower() == "production"
               for key, value in (tags or {}).items())


def owned_by_refresh(key):
    return str(key).startswith(REFRESH_TAG_PREFIX)


def refresh_owned_tags(tags):
    """The tags the refresh keeps its record in (provisioning must leave them alone)."""
    return {key: value for key, value in (tags or {}).items() if owned_by_refresh(key)}


def provisioned_tags(tags):
    """The tags provisioning gives a cluster: every tag the refresh does not own."""
    return {key: value for key, value in (tags or {}).items() if not owned_by_refresh(key)}
