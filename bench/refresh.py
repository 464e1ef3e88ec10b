#!/usr/bin/env python
"""Benchmark: the full acceptance refresh (playbooks/refresh_acceptance.yml) on the local emulator.

Brings up its own emulator (temporary state dir, a port of its own), provisions production and
acceptance once (timed, not a refresh run), then for each run has production share a new snapshot
and runs the refresh.  Per run it prints the wall time of phase 1 (update_latest), phase 2
(restore_current) and each step of the refresh report, the downtime window, and the AWS API
calls the refresh made (from /_emulator/calls).  With --creating-seconds S the emulator keeps
new clusters, instances and snapshots `creating` (renamed clusters `renaming`) for S seconds and
logs when each turns `available` (/_emulator/available); the benchmark then prints how long
after that moment each wait of the refresh noticed it.  Results also go to bench/results/.

    .venv/bin/python bench/refresh.py [--runs 3] [--creating-seconds 0] [--poll-interval S]
                                      [--port 0] [--keep] [--baseline]
                                      [--method snapshot|clone|both] [--restore-seconds-per-mb R]
                                      [--clone-seconds C]

--method clone refreshes by cross-account clone (refresh_method: clone; production shares its
cluster once with playbooks/share_cluster.yml, timed apart); --method both runs --runs snapshot
refreshes, then --runs clone refreshes, in one emulator, and prints both summaries.  With
--restore-seconds-per-mb R a snapshot restore stays `creating` R seconds per MB of its data on
top of --creating-seconds, and with --clone-seconds C a clone stays `creating` C seconds
whatever its size: the proportions of AWS (a restore grows with the data, a clone does not).

With --baseline each run also refreshes once with bench/baseline_refresh.py (the same essential
calls in plain boto3 and psycopg2) on a snapshot of its own, and prints both side by side.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "aws-emulator")
RESULTS = os.path.join(ROOT, "bench", "results")
INVENTORY = os.path.join(ROOT, "inventories", "local")
# Other emulators on this machine use these; never take them.
RESERVED_PORTS = {4566} | set(range(4571, 4579))
STEPS = ("promoted", "copied", "retired", "restored", "sanitized", "verified", "swapped",
         "published", "retained", "total")
TOP_CALLS = 5
LAG_NOTE = """\
detection lag = the moment the refresh noticed (see "noticed:") minus available_at, the moment
the emulator turned the resource available (its creation or rename + --creating-seconds).  A wait
by ansible's until/delay re-runs the module every refresh_poll_interval seconds, so its lag is
at most one interval plus one module run (ansible start-up and the AWS calls); the swap module
polls inside one run (boto3 only, every min(interval, 2) s).  A task's end also includes what the
task does after its wait (named above)."""


# --- the emulator -----------------------------------------------------------------------------

def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def emulator_up(state_dir, port, creating_seconds, *delays):
    """``delays``: more aws-emulator up options (--clone-seconds 10 ...)."""
    out = subprocess.run([EMULATOR, "up", "--state-dir", state_dir, "--port", str(port),
                          "--creating-seconds", str(creating_seconds)] + list(delays),
                         capture_output=True, text=True, check=True, timeout=180).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            env[key] = value
    return env


def emulator_down(state_dir):
    result = subprocess.run([EMULATOR, "down", "--state-dir", state_dir], capture_output=True,
                            text=True, check=False, timeout=180)
    return (result.stdout + result.stderr).strip()


def control(url, name):
    with urllib.request.urlopen(url + "/_emulator/" + name, timeout=10) as response:
        return json.loads(response.read())


def ansible_env(emulator_env):
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    env.update(emulator_env)
    env.update(PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    return env


# --- running playbooks ------------------------------------------------------------------------

class PlaybookFailed(Exception):
    pass


class Interrupted(Exception):
    """SIGTERM, handled like Ctrl-C: clean up, keep what was measured."""


def _interrupt(signum, _frame):
    raise Interrupted("signal %d" % signum)


def run_group(command, env, log):
    """Run command in its own process group; stop the whole group if this script is stopped."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,  # pylint: disable=consider-using-with
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        return process.wait()
    except BaseException:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        raise


def playbook(env, log_path, name, *extra, jsonl=False, inventories=(INVENTORY,), check=True):
    """Run one playbook, output to log_path; (wall seconds, events when jsonl).  With
    check=False a failed run returns like a passed one (the events say what failed)."""
    command = ["ansible-playbook", os.path.join(ROOT, "playbooks", name)]
    for inventory in inventories:
        command += ["-i", inventory]
    for item in extra:
        command += ["-e", item]
    if jsonl:
        env = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.jsonl")
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        returncode = run_group(command, env, log)
    seconds = time.monotonic() - start
    events = read_events(log_path) if jsonl else []
    if returncode != 0 and check:
        raise PlaybookFailed("%s failed (exit %d): %s; full output in %s"
                             % (name, returncode, failure_of(events, log_path), log_path))
    return seconds, events


def read_events(log_path):
    events = []
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for line in log:
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
    return events


def failure_of(events, log_path):
    for event in events:
        if event["_event"] in ("v2_runner_on_failed", "v2_runner_on_unreachable"):
            result = next(iter(event["hosts"].values()))
            if not result.get("ignore_errors"):
                return "task %r: %s" % (event["task"]["name"], result.get("msg", "")[:500])
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return "last lines:\n" + "".join(log.readlines()[-15:])


def epoch(stamp):
    """The jsonl callback's time stamps are UTC ISO 8601 with a Z."""
    return datetime.datetime.fromisoformat(stamp.rstrip("Z")).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def task_results(events, action):
    """(end time, module result) of every finished task of this module."""
    found = []
    for event in events:
        if event["_event"] in ("v2_runner_on_ok", "v2_runner_on_failed"):
            result = next(iter(event["hosts"].values()))
            if result.get("action") == action:
                found.append((epoch(event["task"]["duration"]["end"]), result))
    return found


AWS_ACTIONS = ("dbops.aurora.", "amazon.aws.", "community.aws.")


def aws_module_runs(events):
    """AWS module runs of a playbook run: one per task, per loop item, per until attempt."""
    runs = 0
    for event in events:
        if event["_event"] not in ("v2_runner_on_ok", "v2_runner_on_failed"):
            continue
        result = next(iter(event["hosts"].values()))
        if not str(result.get("action", "")).startswith(AWS_ACTIONS):
            continue
        if "results" in result:
            runs += sum(item.get("attempts", 1) for item in result["results"]
                        if not item.get("skipped"))
        else:
            runs += result.get("attempts", 1)
    return runs


def play_times(events):
    """Phase wall times from the play start events and the last event."""
    starts = [epoch(e["_timestamp"]) for e in events if e["_event"] == "v2_playbook_on_play_start"]
    last = epoch(events[-1]["_timestamp"])
    if len(starts) < 2:
        return {}
    return {"update_latest": starts[1] - starts[0], "restore_current": last - starts[1]}


# --- detection lags ---------------------------------------------------------------------------

def lag(wait, entry, noticed, how):
    return {"wait": wait, "resource": "%s %s" % (entry["kind"], entry["identifier"]),
            "status": entry["status"], "available_at": entry["available_at"],
            "noticed_at": noticed, "lag_seconds": round(noticed - entry["available_at"], 2),
            "noticed_by": how}


def refresh_lags(entries, events, report):
    """For each delayed resource of the refresh: how long after `available` the refresh went on."""
    candidate = report.get("new_cluster")
    lags = []
    copies = [e for e in entries if e["kind"] == "snapshot" and e["identifier"] == candidate]
    copy_tasks = task_results(events, "dbops.aurora.snapshot")
    if copies and copy_tasks:
        # Phase 1 makes the copy and waits for it in the module; phase 2 only finds it.
        lags.append(lag("snapshot copy", copies[-1], copy_tasks[0][0],
                        "end of phase 1's copy task (the module's own wait)"))
    clusters = [e for e in entries if e["kind"] == "cluster" and e["status"] == "creating"
                and e["identifier"] == candidate]
    instances = [e for e in entries if e["kind"] == "instance" and e.get("cluster") == candidate]
    if clusters and instances:
        lags.append(lag("restored cluster", clusters[-1], min(e["since"] for e in instances),
                        "CreateDBInstance, the first call made once it was seen available"))
    restore_tasks = task_results(events, "dbops.aurora.cluster_restore")
    if instances and restore_tasks:
        last = max(instances, key=lambda e: e["available_at"])
        lags.append(lag("its instance(s)", last, restore_tasks[-1][0],
                        "end of the task polling it (until/delay; includes the password reset)"))
    renames = sorted((e for e in entries if e["status"] == "renaming"), key=lambda e: e["since"])
    swap_tasks = task_results(events, "dbops.aurora.cluster_swap")
    if len(renames) >= 2:
        lags.append(lag("rename canonical away", renames[0], renames[1]["since"],
                        "the second rename, made once the first was seen available"))
    if renames and swap_tasks:
        lags.append(lag("rename candidate in", renames[-1], swap_tasks[-1][0],
                        "end of the swap task (its wait, then tagging)"))
    return lags


def share_lags(entries, events, name):
    snapshots = [e for e in entries if e["kind"] == "snapshot" and e["identifier"] == name]
    tasks = task_results(events, "dbops.aurora.snapshot")
    if snapshots and tasks:
        return [lag("production snapshot (share)", snapshots[-1], tasks[0][0],
                    "end of the snapshot task (module's own wait)")]
    return []


def name_free_window(entries):
    """Seconds between the two renames of the swap: no cluster at all at the canonical name."""
    renames = sorted((e for e in entries if e["status"] == "renaming"), key=lambda e: e["since"])
    if len(renames) >= 2:
        return round(renames[-1]["since"] - renames[0]["since"], 2)
    return None


# --- one run ----------------------------------------------------------------------------------

def calls_between(before, after):
    diff = {op: after["calls"].get(op, 0) - before["calls"].get(op, 0) for op in after["calls"]}
    diff = {op: count for op, count in diff.items() if count}
    return {"total": sum(diff.values()),
            "calls": dict(sorted(diff.items(), key=lambda item: (-item[1], item[0])))}


def one_run(index, env, url, logs, extra_vars, baseline=False, method="snapshot"):
    name = "app-prod-%s-%d" % (datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%d-%H%M%S"), index)
    run = {"run": index, "snapshot": name, "method": method}
    control(url, "available?reset=1")
    if method == "clone":  # production's cluster is shared once (benchmark); nothing per run
        name, run["share_seconds"], share_events = "app-prod (clone)", None, []
        run["snapshot"] = name
        extra_vars = list(extra_vars) + ["refresh_method=clone"]
    else:
        run["share_seconds"], share_events = playbook(
            env, os.path.join(logs, "share-%d.jsonl" % index), "share_snapshot.yml",
            "snapshot_share_snapshot_identifier=" + name, jsonl=True)
    share_entries = control(url, "available?reset=1")["resources"]
    index = "%s-%d" % (method, index)
    report_path = os.path.join(logs, "report-%s.json" % index)
    before = control(url, "calls")
    try:
        run["wall_seconds"], events = playbook(
            env, os.path.join(logs, "refresh-%s.jsonl" % index), "refresh_acceptance.yml",
            "refresh_report_path=" + report_path, *extra_vars, jsonl=True)
    finally:
        run["api_calls"] = calls_between(before, control(url, "calls"))
    entries = control(url, "available?reset=1")["resources"]
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
    run["aws_module_runs"] = aws_module_runs(events)
    if baseline and method == "snapshot":  # the baseline restores a snapshot
        base_name = name + "-base"
        control(url, "available?reset=1")
        playbook(env, os.path.join(logs, "share-base-%s.jsonl" % index), "share_snapshot.yml",
                 "snapshot_share_snapshot_identifier=" + base_name, jsonl=True)
        control(url, "available?reset=1")
        before_base = control(url, "calls")
        base = subprocess.run(
            [sys.executable, os.path.join(ROOT, "bench", "baseline_refresh.py"), "--snapshot",
             "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:" + base_name],
            env=env, capture_output=True, text=True, check=True)
        run["baseline"] = dict(json.loads(base.stdout.strip().splitlines()[-1]),
                               api_calls=calls_between(before_base, control(url, "calls")))
    run.update(status=report["status"], refresh_id=report["refresh_id"],
               new_cluster=report["new_cluster"], phases=play_times(events),
               steps=report["durations_seconds"], downtime_seconds=float(report["downtime_seconds"]),
               name_free_seconds=name_free_window(entries),
               deleted_clusters=report.get("deleted_clusters") or [],
               detection=share_lags(share_entries, share_events, name)
               + refresh_lags(entries, events, report))
    return run


# --- printing ---------------------------------------------------------------------------------

def fmt(value):
    return "-" if value is None else "%.2f" % value


def run_rows(run):
    rows = [("share_snapshot.yml (production; not in the refresh)", run["share_seconds"])] \
        if run["share_seconds"] is not None else []
    rows.append(("phase 1 update_latest (play wall time)", run["phases"].get("update_latest")))
    rows.append(("phase 2 restore_current (play wall time)", run["phases"].get("restore_current")))
    for step in STEPS:
        if step in run["steps"]:
            label = "total (report: phase 2 start to report)" if step == "total" else step
            rows.append(("  step " + label, float(run["steps"][step])))
    rows.append(("refresh_acceptance.yml wall time", run["wall_seconds"]))
    rows.append(("downtime (report: first rename, or a clone's deletion, to canonical available)",
                 run["downtime_seconds"]))
    if run["name_free_seconds"] is not None:  # logged only with --creating-seconds
        rows.append(("  of which no cluster at all at the name (emulator: rename to rename)",
                     run["name_free_seconds"]))
    if "baseline" in run:
        rows.append(("baseline: minimal boto3 refresh wall time (bench/baseline_refresh.py)",
                     run["baseline"]["wall_seconds"]))
        rows.append(("ratio: refresh_acceptance.yml / baseline",
                     run["wall_seconds"] / run["baseline"]["wall_seconds"]))
    return rows


def print_run(run):
    print("\nrun %d (%s): %s -> %s, %s"
          % (run["run"], run["method"], run["snapshot"], run["new_cluster"], run["status"]))
    for label, value in run_rows(run):
        print("  %-70s %8s %s" % (label, fmt(value), "x" if label.startswith("ratio") else "s"))
    calls = run["api_calls"]
    top = ", ".join("%s %d" % item for item in list(calls["calls"].items())[:TOP_CALLS])
    print("  %-70s %8d    (%s, ...)"
          % ("AWS API calls during refresh_acceptance.yml", calls["total"], top))
    print("  %-70s %8d"
          % ("AWS module runs (tasks, loop items, until attempts)", run["aws_module_runs"]))
    if "baseline" in run:
        print("  %-70s %8d" % ("baseline: AWS API calls", run["baseline"]["api_calls"]["total"]))
    if run["deleted_clusters"]:
        print("  (retained step deleted %s)" % ", ".join(run["deleted_clusters"]))
    if run["detection"]:
        print("  detection lag: when the refresh noticed minus when the emulator turned it available")
    for item in run["detection"]:
        print("    %-28s %-46s %6.2f s  noticed: %s"
              % (item["wait"], item["resource"] + " " + item["status"], item["lag_seconds"],
                 item["noticed_by"]))


def summarize(runs):
    metrics = {}
    for run in runs:
        for label, value in run_rows(run):
            if value is not None:
                metrics.setdefault(label, []).append(value)
        metrics.setdefault("AWS API calls during refresh_acceptance.yml", []).append(
            run["api_calls"]["total"])
        metrics.setdefault("AWS module runs", []).append(run["aws_module_runs"])
        if "baseline" in run:
            metrics.setdefault("baseline: AWS API calls", []).append(
                run["baseline"]["api_calls"]["total"])
        for item in run["detection"]:
            metrics.setdefault("lag " + item["wait"], []).append(item["lag_seconds"])
    return {label: {"min": min(values), "median": statistics.median(values), "max": max(values)}
            for label, values in metrics.items()}


def print_summary(summary, count):
    print("\nsummary over %d run(s)%s" % (count, "" if count > 1 else " (one run: min = max)"))
    print("  %-70s %8s %8s %8s" % ("", "min", "median", "max"))
    for label, stats in summary.items():
        print("  %-70s %8.2f %8.2f %8.2f" % (label, stats["min"], stats["median"], stats["max"]))


# --- main -------------------------------------------------------------------------------------

def inventory_poll_interval():
    with open(os.path.join(INVENTORY, "host_vars", "acceptance.yml"), encoding="utf-8") as handle:
        return (yaml.safe_load(handle) or {}).get("refresh_poll_interval")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="refresh runs (default 3)")
    parser.add_argument("--creating-seconds", type=float, default=0.0,
                        help="emulator keeps new resources creating this long (default 0)")
    parser.add_argument("--poll-interval", type=float, default=None,
                        help="-e refresh_poll_interval=S (default: the inventory's)")
    parser.add_argument("--port", type=int, default=0, help="emulator port (default 0: a free one)")
    parser.add_argument("--baseline", action="store_true",
                        help="after each refresh, share another snapshot and refresh with the "
                             "minimal boto3 script (bench/baseline_refresh.py), side by side")
    parser.add_argument("--method", choices=["snapshot", "clone", "both"], default="snapshot",
                        help="refresh_method of the runs; both: --runs of each (default snapshot)")
    parser.add_argument("--restore-seconds-per-mb", type=float, default=0.0,
                        help="a snapshot restore stays creating this long per MB of its data")
    parser.add_argument("--clone-seconds", type=float, default=-1.0,
                        help="a clone stays creating this long, whatever its size "
                             "(default: --creating-seconds)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the emulator up and the logs in place at the end")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    if options.port in RESERVED_PORTS:
        parser.error("port %d is used by other emulators on this machine; choose another"
                     % options.port)
    return options


def write_results(result, name="refresh"):
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "%s-%s.json" % (name, datetime.datetime.now(
        datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    return path


def benchmark(options, work, result):
    """Everything between emulator up and down; fills result as it goes."""
    port = options.port or free_port()
    state_dir = os.path.join(work, "emulator")
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    env = ansible_env(emulator_up(state_dir, port, options.creating_seconds,
                                  "--restore-seconds-per-mb", str(options.restore_seconds_per_mb),
                                  "--clone-seconds", str(options.clone_seconds)))
    url = env["AWS_ENDPOINT_URL"]
    print("emulator: %s (state %s), creating_seconds %s, restore_seconds_per_mb %s, "
          "clone_seconds %s, refresh_poll_interval %s"
          % (url, state_dir, options.creating_seconds, options.restore_seconds_per_mb,
             options.clone_seconds, result["poll_interval"]))
    result["provision_seconds"], _events = playbook(env, os.path.join(logs, "provision.log"),
                                                    "provision.yml")
    print("provision.yml (both accounts, once, not a refresh run): %.2f s"
          % result["provision_seconds"])
    extra = [] if options.poll_interval is None else [
        "refresh_poll_interval=%s" % options.poll_interval]
    methods = ["snapshot", "clone"] if options.method == "both" else [options.method]
    for method in methods:
        if method == "clone":
            result["share_cluster_seconds"], _events = playbook(
                env, os.path.join(logs, "share-cluster.log"), "share_cluster.yml")
            print("share_cluster.yml (production shares its cluster, acceptance accepts; once): "
                  "%.2f s" % result["share_cluster_seconds"])
        for index in range(1, options.runs + 1):
            run = one_run(index, env, url, logs, extra, baseline=options.baseline, method=method)
            result["runs"].append(run)
            print_run(run)


# What stops a benchmark run; it then cleans up and reports what it measured so far.
BENCHMARK_ERRORS = (PlaybookFailed, subprocess.CalledProcessError, OSError, ValueError, KeyError)


def failure(error):
    return str(error) + (("\n" + error.stderr) if getattr(error, "stderr", None) else "")


def measure(benchmark, options, work, result):
    """Run benchmark(options, work, result): None, or why it stopped (it keeps what it
    measured in result)."""
    try:
        benchmark(options, work, result)
    except BENCHMARK_ERRORS as error:
        return failure(error)
    except (KeyboardInterrupt, Interrupted):
        return "interrupted"
    return None


def ignore_signals():
    """Let the clean-up finish whatever the operator presses."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main():
    options = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work = tempfile.mkdtemp(prefix="bench-refresh-")
    result = {"benchmark": "refresh", "started_at": datetime.datetime.now(
        datetime.timezone.utc).isoformat(), "creating_seconds": options.creating_seconds,
        "poll_interval": options.poll_interval if options.poll_interval is not None
        else inventory_poll_interval(), "runs": []}
    failed = measure(benchmark, options, work, result)
    ignore_signals()
    if options.keep:
        print("\n--keep: emulator left up; source %s/emulator/env.sh; stop it with "
              "tests/emulator/aws-emulator down --state-dir %s/emulator" % (work, work))
    else:
        print("\n" + emulator_down(os.path.join(work, "emulator")))
    for method in sorted({run["method"] for run in result["runs"]}, reverse=True):
        runs = [run for run in result["runs"] if run["method"] == method]
        result.setdefault("summary", {})[method] = summarize(runs)
        print("\nmethod %s:" % method)
        print_summary(result["summary"][method], len(runs))
    if result["runs"]:
        if any(run["detection"] for run in result["runs"]):
            print("\n" + LAG_NOTE)
    if failed:
        result["failed"] = failed
    print("results: %s" % write_results(result))
    if failed:
        print("logs kept in %s/logs" % work)
        sys.exit("benchmark failed: %s" % failed)
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
