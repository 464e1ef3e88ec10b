# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the refresh role: the maintenance window guard and the refresh id."""

import datetime
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.dbops.aurora.plugins.module_utils import conventions

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKLY = re.compile(r"^(?P<d1>[a-z]{3}):(?P<h1>\d{2}):(?P<m1>\d{2})-"
                     r"(?P<d2>[a-z]{3}):(?P<h2>\d{2}):(?P<m2>\d{2})$")
_DAILY = re.compile(r"^(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$")
_WEEK = 7 * 24 * 60


def _minute_of_week(day, hour, minute):
    if day not in _DAYS or not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError
    return _DAYS.index(day) * 24 * 60 + hour * 60 + minute


def _parse_window(window):
    """(start, end, period) in minutes; a window may wrap past the end of the day or week."""
    text = str(window).strip().lower()
    weekly, daily = _WEEKLY.match(text), _DAILY.match(text)
    try:
        if weekly:
            start = _minute_of_week(weekly["d1"], int(weekly["h1"]), int(weekly["m1"]))
            end = _minute_of_week(weekly["d2"], int(weekly["h2"]), int(weekly["m2"]))
            return start, end, _WEEK
        if daily:
            start = _minute_of_week("mon", int(daily["h1"]), int(daily["m1"]))
            end = _minute_of_week("mon", int(daily["h2"]), int(daily["m2"]))
            return start, end, 24 * 60
    except ValueError:
        pass
    raise AnsibleFilterError(
        "maintenance window %r must look like 'sun:02:00-sun:06:00' (weekly, UTC, as RDS "
        "writes it) or '02:00-06:00' (daily, UTC)" % (window,))


def in_maintenance_window(window, now=None):
    """True when ``now`` (ISO 8601, default the current UTC time) falls inside ``window``."""
    start, end, period = _parse_window(window)
    if now is None or now == "":
        moment = datetime.datetime.now(datetime.timezone.utc)
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        except ValueError as error:
            raise AnsibleFilterError("in_maintenance_window: now %r: %s" % (now, error))
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc)
    current = moment.weekday() * 24 * 60 + moment.hour * 60 + moment.minute
    current %= period
    if start <= end:
        return start <= current < end
    return current >= start or current < end


def refresh_id(snapshot):
    """A short, stable id for a refresh from its snapshot, so a rerun reuses its cluster names."""
    if not snapshot:
        raise AnsibleFilterError("refresh_id needs the snapshot's ARN or name")
    return conventions.refresh_id(snapshot)


def candidate_name(snapshot, canonical):
    """The cluster a refresh of ``snapshot`` restores, and acceptance's copy of the snapshot:
    <canonical>-<refresh id>."""
    refresh_id(snapshot)  # the same error for an empty snapshot
    return conventions.candidate_name(canonical, snapshot)


def retired_first(clusters, canonical, kinds=None):
    """The clusters put aside from ``canonical`` (-previous-*, -undone-*; ``kinds`` narrows to
    e.g. ['previous']), never one tagged production, the one that stopped serving last first."""
    infixes = tuple("-%s-" % kind for kind in (kinds or ["previous", "undone"]))
    return conventions.retired_first(clusters, canonical, infixes)


def rollback_plan(clusters, canonical, fallback_id):
    """What a rollback swaps (cluster_swap's candidate_identifier, retained_identifier and
    rollback, plus resumes), or None when nothing is left to roll back to."""
    if not canonical or not fallback_id:
        raise AnsibleFilterError("rollback_plan needs the canonical identifier and a fallback id")
    return conventions.rollback_plan(clusters, canonical, fallback_id)


def refresh_record(snapshot, created=None, phase=None, instance_prefix=None, with_source=True,
                   identifier=None):
    """The tags a refresh writes on its copy and its new cluster (its record of progress)."""
    refresh_id(snapshot)  # the same error for an empty snapshot
    return conventions.refresh_record(snapshot, created, phase, instance_prefix, with_source,
                                      identifier)


def clone_refresh_id(record, source_cluster, started_at):
    """A clone run's refresh id: the unfinished one the clone pointer records for this source
    (a rerun resumes it), else a new one from the source and this run's start."""
    if not source_cluster or not started_at:
        raise AnsibleFilterError("clone_refresh_id needs the source cluster's ARN and the run's start")
    if record and not isinstance(record, dict):
        raise AnsibleFilterError("clone_refresh_id: the clone pointer must be a dict, not %r" % (record,))
    return conventions.clone_refresh_id(record, source_cluster, started_at)


def clone_record(refresh_id_, source_cluster, state, restorable_time=None, started_at=None):
    """The clone pointer's value (what was cloned, from where, at what restorable time)."""
    try:
        return conventions.clone_record(refresh_id_, source_cluster, state, restorable_time,
                                        started_at)
    except ValueError as error:
        raise AnsibleFilterError("clone_record: %s" % error) from error


def final_snapshot_to_restore(snapshots, clusters, canonical):
    """The final snapshot of a clone a rollback restores first (None when a previous cluster,
    a half-done swap or an earlier restore of it comes first)."""
    return conventions.final_snapshot_to_restore(snapshots, clusters, canonical)


def final_snapshot_pattern(canonical):
    """The regular expression of the final snapshots a clone refresh keeps for rollback."""
    return conventions.final_snapshot_pattern(canonical)


def record_of(tags):
    """What a refresh recorded in a resource's tags: refresh_id, source_snapshot,
    source_created, phase, retired_at, instance_prefix (none where absent)."""
    return conventions.record_of(tags)


def candidate_pattern(canonical):
    """The regular expression of <canonical>-<refresh id> names."""
    return conventions.candidate_pattern(canonical)


def previous_prefix(canonical):
    """<canonical>-previous-: where a swap puts the cluster it replaces."""
    return conventions.previous_prefix(canonical)


def failed_checks(results):
    """The names of the smoke checks that failed, from the results of the task that ran them
    (postgresql_query over the checks, each {name, sql}): a check passes only when its first
    row has a true ``ok`` column; a failed query, no row, or no ``ok`` column fail it."""
    failed = []
    for result in results or []:
        rows = result.get("query_result") or []
        first = rows[0] if rows and isinstance(rows[0], dict) else {}
        if result.get("failed") or not first.get("ok"):
            failed.append((result.get("item") or {}).get("name", "unnamed check"))
    return failed


def step_durations(marks, steps, now):
    """Seconds each step took, from the moments it ended (``marks``: step -> epoch seconds,
    with ``started``), in the order of ``steps``; steps not reached are left out.  ``total``
    runs from ``started`` to ``now``."""
    try:
        last = started = float(marks["started"])
        durations = {}
        for step in steps:
            if step in marks:
                durations[step] = round(float(marks[step]) - last, 2)
                last = float(marks[step])
        durations["total"] = round(float(now) - started, 2)
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError("step_durations: marks need a numeric 'started' and numeric "
                                 "steps (%s)" % error) from error
    return durations


def sanitize_tags(kind):
    """The tags of a sanitising share's temporary cluster ('temporary') or snapshot ('sanitized')."""
    if kind not in ("temporary", "sanitized"):
        raise AnsibleFilterError("sanitize_tags takes 'temporary' or 'sanitized', not %r" % (kind,))
    return conventions.sanitize_tags(kind)


def is_sanitize_temporary(tags):
    """True for a cluster tagged as a sanitising share's temporary one (and not production's)."""
    return conventions.is_sanitize_temporary(tags)


def sanitize_cluster_name(source_cluster):
    """The temporary cluster a sanitising share restores, masks and deletes."""
    return conventions.sanitize_cluster_name(source_cluster)


def sanitized_snapshot_name(snapshot):
    """The name of the sanitised snapshot made from a raw one."""
    return conventions.sanitized_snapshot_name(snapshot)


def sanitized_snapshot_pattern(_ignored=None):
    """A regular expression matching the names of sanitised snapshots."""
    return conventions.sanitized_snapshot_pattern()


class FilterModule:
    def filters(self):
        return {"in_maintenance_window": in_maintenance_window, "refresh_id": refresh_id,
                "candidate_name": candidate_name, "retired_first": retired_first,
                "rollback_plan": rollback_plan, "refresh_record": refresh_record,
                "record_of": record_of, "candidate_pattern": candidate_pattern,
                "previous_prefix": previous_prefix, "failed_checks": failed_checks,
                "step_durations": step_durations, "sanitize_cluster_name": sanitize_cluster_name,
                "sanitized_snapshot_name": sanitized_snapshot_name,
                "sanitized_snapshot_pattern": sanitized_snapshot_pattern,
                "sanitize_tags": sanitize_tags, "is_sanitize_temporary": is_sanitize_temporary,
                "clone_refresh_id": clone_refresh_id, "clone_record": clone_record,
                "final_snapshot_pattern": final_snapshot_pattern,
                "final_snapshot_to_restore": final_snapshot_to_restore}
