#!/usr/bin/env python
"""Benchmark: one run of the main job refreshing a fleet of N acceptance environments at once.

Brings up its own emulator, provisions production and five acceptance environments once
(inventories/local plus inventories/local-fleet.yml; timed, not a run), then for each N (1, 3
and 5 by default) has production share a new snapshot and runs refresh_acceptance.yml with
dbops_refresh_hosts naming the first N environments.  Per N it prints the wall time, the ratio
to N=1, the AWS API calls and AWS module runs, and each environment's status; the target is
N=3 in at most 1.3x the time of N=1.  Results also go to bench/results/.

    .venv/bin/python bench/fleet.py [--sizes 1,3,5] [--runs 1] [--creating-seconds 0] [--port 0]
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position
from refresh import (INVENTORY, RESERVED_PORTS, ROOT, _interrupt, ansible_env,  # noqa: E402
                     aws_module_runs, calls_between, control, emulator_down, emulator_up,
                     free_port, ignore_signals, measure, playbook, write_results)

FLEET_INVENTORY = os.path.join(ROOT, "inventories", "local-fleet.yml")
ENVIRONMENTS = ["acceptance", "acceptance-2", "acceptance-3", "acceptance-4", "acceptance-5"]
INVENTORIES = (INVENTORY, FLEET_INVENTORY)


def one_run(size, index, env, url, logs):
    hosts = ENVIRONMENTS[:size]
    name = "app-prod-%s-n%d-%d" % (datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%d-%H%M%S"), size, index)
    playbook(env, os.path.join(logs, "share-n%d-%d.log" % (size, index)), "share_snapshot.yml",
             "snapshot_share_snapshot_identifier=" + name)
    reports = os.path.join(logs, "reports-n%d-%d" % (size, index))
    os.makedirs(reports)
    before = control(url, "calls")
    seconds, events = playbook(
        env, os.path.join(logs, "refresh-n%d-%d.jsonl" % (size, index)), "refresh_acceptance.yml",
        "dbops_refresh_hosts=" + ",".join(hosts),
        "refresh_report_path=" + reports + "/{{ inventory_hostname }}.json",
        jsonl=True, inventories=INVENTORIES)
    calls = calls_between(before, control(url, "calls"))
    statuses = {}
    for host in hosts:
        with open(os.path.join(reports, host + ".json"), encoding="utf-8") as handle:
            statuses[host] = json.load(handle)["status"]
    return {"size": size, "run": index, "snapshot": name, "wall_seconds": round(seconds, 2),
            "api_calls": calls, "aws_module_runs": aws_module_runs(events), "statuses": statuses}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,3,5",
                        help="fleet sizes to run, comma-separated, each 1 to 5 (default 1,3,5)")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (default 1)")
    parser.add_argument("--creating-seconds", type=float, default=0.0,
                        help="emulator keeps new resources creating this long (default 0)")
    parser.add_argument("--port", type=int, default=0, help="emulator port (default 0: a free one)")
    options = parser.parse_args()
    try:
        options.sizes = [int(size) for size in options.sizes.split(",")]
    except ValueError:
        parser.error("--sizes must be numbers separated by commas, got %r" % options.sizes)
    if not options.sizes or any(not 1 <= size <= len(ENVIRONMENTS) for size in options.sizes):
        parser.error("--sizes: each size must be between 1 and %d" % len(ENVIRONMENTS))
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    if options.port in RESERVED_PORTS:
        parser.error("port %d is used by other emulators on this machine; choose another"
                     % options.port)
    return options


def benchmark(options, work, result):
    state_dir = os.path.join(work, "emulator")
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    env = ansible_env(emulator_up(state_dir, options.port or free_port(), options.creating_seconds))
    url = env["AWS_ENDPOINT_URL"]
    print("emulator: %s (state %s), creating_seconds %s"
          % (url, state_dir, options.creating_seconds))
    needed = ENVIRONMENTS[:max(options.sizes)]
    result["provision_seconds"], _events = playbook(
        env, os.path.join(logs, "provision.log"), "provision.yml",
        "dbops_target=" + ",".join(["production"] + needed), inventories=INVENTORIES)
    print("provision.yml (production and %d acceptance environments, once, not a run): %.2f s"
          % (len(needed), result["provision_seconds"]))
    for size in options.sizes:
        for index in range(1, options.runs + 1):
            run = one_run(size, index, env, url, logs)
            result["runs"].append(run)
            print("N=%d run %d: %7.2f s  %4d API calls  %3d AWS module runs  %s"
                  % (size, index, run["wall_seconds"], run["api_calls"]["total"],
                     run["aws_module_runs"],
                     ", ".join("%s %s" % item for item in run["statuses"].items())))


def summarize(runs):
    by_size = {}
    for run in runs:
        by_size.setdefault(run["size"], []).append(run)
    summary = {}
    for size, group in sorted(by_size.items()):
        summary[size] = {
            "wall_seconds": statistics.median(run["wall_seconds"] for run in group),
            "api_calls": statistics.median(run["api_calls"]["total"] for run in group),
            "aws_module_runs": statistics.median(run["aws_module_runs"] for run in group),
            "all_succeeded": all(set(run["statuses"].values()) == {"succeeded"} for run in group)}
    alone = summary.get(1, {}).get("wall_seconds")
    for size, row in summary.items():
        row["ratio_to_one"] = round(row["wall_seconds"] / alone, 2) if alone else None
    return summary


def print_summary(summary):
    print("\n%4s %12s %10s %12s %12s %14s" % ("N", "wall (s)", "x N=1", "API calls",
                                              "module runs", "all succeeded"))
    for size, row in summary.items():
        print("%4d %12.2f %10s %12d %12d %14s"
              % (size, row["wall_seconds"], "-" if row["ratio_to_one"] is None
                 else "%.2f" % row["ratio_to_one"], row["api_calls"], row["aws_module_runs"],
                 row["all_succeeded"]))


def main():
    options = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work = tempfile.mkdtemp(prefix="bench-fleet-")
    result = {"benchmark": "fleet", "started_at": datetime.datetime.now(
        datetime.timezone.utc).isoformat(), "creating_seconds": options.creating_seconds,
        "runs": []}
    failed = measure(benchmark, options, work, result)
    ignore_signals()
    print("\n" + emulator_down(os.path.join(work, "emulator")))
    if result["runs"]:
        result["summary"] = summarize(result["runs"])
        print_summary(result["summary"])
    if failed:
        result["failed"] = failed
    print("results: %s" % write_results(result, "fleet"))
    if failed:
        print("logs kept in %s/logs" % work)
        sys.exit("benchmark failed: %s" % failed)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
