# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migrate role's words and report: what a plan does, what a migration did."""

ACTIONS = {
    "fresh": "into a new or empty database",
    "replace": "over what the target holds (its objects of the same names are replaced)",
    "resume": "again: an earlier run died part-way, its work is redone",
}


def migrate_plan_summary(plan, section="all", check_mode=False):
    """One line from M(dbops.aurora.migrate_info)'s result."""
    what = {"all": "schema and data", "schema": "the schema", "data": "the data"}[section]
    return "%s %s of %d table(s), about %d rows and %.1f MB, from %s to %s %s" % (
        "Would migrate" if check_mode else "Migrating", what, len(plan["tables"]),
        plan["source"]["estimated_rows"], plan["source"]["bytes"] / 1048576.0,
        plan["source"]["label"], plan["target"]["label"], ACTIONS.get(plan["action"], plan["action"]))


def _seconds(marks, start, end):
    if start in marks and end in marks:
        return round(marks[end] - marks[start], 3)
    return None


def migrate_report(plan, section="all", marks=None, dump=None, restore=None, check=None, leftover=None):
    """The report of a migration: both sides, the action, per table rows, and each phase's time."""
    marks = marks or {}
    check = check or {}
    dump = dump or {}
    return {
        "source": plan["source"]["label"],
        "target": plan["target"]["label"],
        "action": plan["action"],
        "section": section,
        "digest": plan["digest"],
        "tables": check.get("tables", [{"table": name} for name in plan["tables"]]),
        "sequences": len(check.get("sequences", {})),
        "problems": check.get("problems", []),
        "source_bytes": plan["source"]["bytes"],
        "dump_bytes": (dump.get("progress") or {}).get("bytes", 0),
        "stopped_leftovers": (leftover or {}).get("stopped", []),
        # pg_dump and pg_restore alone, from their start to the poll that saw them end.
        "command_seconds": {"dump": dump.get("seconds"), "restore": (restore or {}).get("seconds")},
        "seconds": {
            "plan": _seconds(marks, "started", "planned"),
            "dump": _seconds(marks, "planned", "dumped"),
            "restore": _seconds(marks, "dumped", "restored"),
            "verify": _seconds(marks, "restored", "verified"),
            "total": _seconds(marks, "started", "verified"),
        },
    }


def migrate_report_lines(report):
    """The report for people: one line per phase and per table."""
    seconds = report["seconds"]
    lines = ["%s -> %s (%s, %s): %d table(s), %s" % (
        report["source"], report["target"], report["action"], report["section"], len(report["tables"]),
        "verified" if not report["problems"] else "%d problem(s)" % len(report["problems"]))]
    lines.append("seconds: " + ", ".join("%s %s" % (k, seconds[k]) for k in ("plan", "dump", "restore", "verify", "total")
                                         if seconds.get(k) is not None))
    if seconds.get("dump") and seconds.get("restore"):
        moved = report["source_bytes"] / 1048576.0
        lines.append("moved %.1f MB (the source database) in %.1f s of dump and restore, %.1f MB/s; the dump "
                     "took %.1f MB on the runner" % (moved, seconds["dump"] + seconds["restore"],
                                                     moved / (seconds["dump"] + seconds["restore"]),
                                                     report["dump_bytes"] / 1048576.0))
    for table in report["tables"]:
        if "source_rows" in table:
            lines.append("%s: %s rows (source %s)" % (table["table"], table["target_rows"], table["source_rows"]))
    return lines


class FilterModule:
    def filters(self):
        return {"migrate_plan_summary": migrate_plan_summary, "migrate_report": migrate_report,
                "migrate_report_lines": migrate_report_lines}
