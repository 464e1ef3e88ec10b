# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking results for people: the guard's stop message and the report's entries."""


def masking_problems(check, candidate=""):
    """One message from M(dbops.aurora.masking_info)'s result: what has no rule, what did not hold."""
    check = check or {}
    parts = []
    unruled = check.get("unruled") or []
    unproven = check.get("unproven") or []
    if unruled:
        parts.append("no masking rule for %s (add a rule, or list it in refresh_masking_safe_columns)"
                     % ", ".join("%s.%s (%s)" % (u["table"], u["column"], u["reason"]) for u in unruled))
    if unproven:
        parts.append("rules that did not hold: %s"
                     % ", ".join("%s.%s (%s: %d rows not masked)"
                                 % (u["table"], u["column"], u["strategy"], u["rows_not_masked"])
                                 for u in unproven))
    if not parts:
        return "Masking guard passed%s" % (" on " + candidate if candidate else "")
    return "Masking guard%s: %s." % (" on " + candidate if candidate else "", "; ".join(parts))


def masking_report(tables):
    """The report's per-table masking lines: table, method, rows, seconds (or skipped)."""
    report = []
    for entry in tables or []:
        line = {"table": entry["table"], "method": entry["method"]}
        if entry.get("skipped"):
            line["skipped"] = entry.get("skipped_why") or True
        else:
            line["rows"] = entry.get("rows")
            line["seconds"] = entry.get("seconds")
        report.append(line)
    return report


def masking_guard_report(check):
    """The report's guard line: passed, the counts, or not run."""
    check = check or {}
    if "ok" not in check:
        return {"ran": False}
    return {"ran": True, "ok": bool(check["ok"]), "unruled": len(check.get("unruled") or []),
            "unproven": len(check.get("unproven") or [])}


class FilterModule:
    def filters(self):
        return {"masking_problems": masking_problems, "masking_report": masking_report,
                "masking_guard_report": masking_guard_report}
