# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleets: one run refreshes every acceptance environment its play matches (one host each).
This finds what would make such a run silently act on fewer environments than meant, or make
two environments step on each other, before anything runs."""

# What each environment must not share with another in the same run (the same account: AWX
# gives a job one credential), and how the message names it.
_OWN = (("canonical", "the canonical cluster"), ("lock", "the lock parameter"),
        ("latest", "the latest pointer"), ("current", "the current pointer"),
        ("secret", "the secret"))
# Every run writes these on this machine, whatever the account.
_LOCAL = (("report", "the report path"),)
# An inventory host that defines this is an environment the refresh can act on.
ENVIRONMENT_MARK = "refresh_canonical_identifier"


def _clashes(identities, keys, scoped):
    problems = []
    for key, what in keys:
        seen = {}
        for host in sorted(identities):
            identity = identities[host] or {}
            value = identity.get(key)
            if not value:
                continue
            slot = (identity.get("account", "") if scoped else "", str(value))
            seen.setdefault(slot, []).append(host)
        for (dummy, value), hosts in sorted(seen.items(), key=lambda item: item[0][1]):
            if len(hosts) > 1:
                problems.append("%s share %s %s: give each environment its own"
                                % (" and ".join(hosts), what, value))
    return problems


def fleet_problems(play_hosts, hostvars, groups, explicit=False):
    """Why this play must not run, as sentences (none when it may).

    ``play_hosts`` are the hosts the play matched; ``hostvars`` maps each inventory host to its
    variables, where each play host has set ``refresh_fleet_identity`` (account, canonical,
    lock, latest, current, secret, report); ``groups`` maps group names to their hosts.
    ``explicit`` is true when the operator chose the hosts (--limit, dbops_refresh_hosts): then
    environments left out are left out on purpose."""
    play_hosts = list(play_hosts)
    problems = []
    for host in play_hosts:
        members = [member for member in groups.get(host, []) if member != host]
        if members:
            problems.append(
                "host %s is named like the group %s it belongs to: Ansible then matches the host "
                "alone, and this run would refresh 1 of the group's %d environments (%s left "
                "out); rename the host" % (host, host, len(members) + 1, ", ".join(members)))
    if not explicit:
        defined = sorted(host for host in groups.get("all", []) if host in hostvars
                         and ENVIRONMENT_MARK in hostvars[host])
        left_out = [host for host in defined if host not in play_hosts]
        if left_out:
            problems.append(
                "the inventory defines %d environment(s) (hosts with %s) and this play matches "
                "%d: %s would not be refreshed; choose them on purpose with --limit or "
                "-e dbops_refresh_hosts=PATTERN, or put them in the play's group"
                % (len(defined), ENVIRONMENT_MARK, len(defined) - len(left_out),
                   ", ".join(left_out)))
    identities = {host: hostvars[host].get("refresh_fleet_identity") for host in play_hosts
                  if host in hostvars}
    problems.extend(_clashes(identities, _OWN, scoped=True))
    problems.extend(_clashes(identities, _LOCAL, scoped=False))
    return problems


def fleet_summary(play_hosts, hostvars):
    """One sentence on how each environment of the play did, from its ``refresh_summary``: the
    failed ones named first, with why."""
    by_status, failures = {}, []
    for host in play_hosts:
        summary = (hostvars.get(host) or {}).get("refresh_summary") or {}
        status = summary.get("status") or "not reported"
        by_status.setdefault(status, []).append(host)
        if status == "failed":
            failures.append("%s (%s)" % (host, str(summary.get("failure") or "").strip()))
    parts = ["%d %s: %s" % (len(hosts), status, ", ".join(hosts))
             for status, hosts in sorted(by_status.items(), key=lambda item: item[0] != "failed")]
    sentence = "%d environment(s): %s" % (len(list(play_hosts)), "; ".join(parts))
    if failures:
        sentence += ". Failed: " + "; ".join(failures)
    return sentence


class FilterModule:
    def filters(self):
        return {"fleet_problems": fleet_problems, "fleet_summary": fleet_summary}
