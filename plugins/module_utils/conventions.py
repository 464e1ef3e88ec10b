# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's conventions in one place: the tags the refresh keeps its record in, the
names it gives clusters, and the production rule.  Modules import them; roles reach them
through the filters in plugins/filter/refresh.py."""

import hashlib

# Every tag the refresh owns starts with this prefix; provisioning keeps such tags as they are.
REFRESH_TAG_PREFIX = "dbops:"
SOURCE_SNAPSHOT_TAG = "dbops:source-snapshot"
SOURCE_CREATED_TAG = "dbops:source-created"
REFRESH_ID_TAG = "dbops:refresh-id"
PHASE_TAG = "dbops:phase"
CANONICAL_TAG = "dbops:canonical"
# When a cluster stopped serving (put aside by a swap): retention and rollback go by it, not
# by creation time (a rollback puts an older cluster back to serve).
RETIRED_AT_TAG = "dbops:retired-at"

# A cluster the refresh kept for rollback is <canonical>-previous-<refresh id>; one a rollback
# put aside is <canonical>-undone-<refresh id>; a new cluster is <canonical>-<refresh id>.
PREVIOUS_INFIX = "-previous-"
UNDONE_INFIX = "-undone-"


def refresh_id(snapshot):
    """A short, stable id for a refresh from its snapshot (ARN or name): r + 8 hex digits."""
    return "r" + hashlib.sha256(str(snapshot).encode("utf-8")).hexdigest()[:8]


def candidate_name(canonical, snapshot):
    """The new cluster a refresh of ``snapshot`` restores, and acceptance's copy of it."""
    return "%s-%s" % (canonical, refresh_id(snapshot))


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
