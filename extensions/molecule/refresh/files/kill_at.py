"""Run a command (ansible-playbook) and kill it, with every process it started, once it starts a
task (and, optionally, once the AWS stand-in shows a cluster being renamed).

    kill_at.py --task "Swap the new cluster in" [--delay 0.5]
               [--emulator http://127.0.0.1:4578 --when-status renaming] -- ansible-playbook ...

SIGKILL on the whole process tree, as a lost controller or a cancelled AWX job would: no rescue,
no always, no lock release.  ansible-core runs each module in a session of its own, so killing
the controller's process group leaves the module running (it would finish the step): the tree
is found through /proc, frozen with SIGSTOP (so nothing forks meanwhile), then killed.
Exit 0 when the run was killed, 3 when it ended first.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


def children_of():
    """{parent pid: [child pids]} for every process, read from /proc."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the ppid follows the last ')'.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def descendants(pid):
    tree = children_of()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def alive(pid):
    """Running (a zombie waiting to be reaped is dead)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_tree(pid):
    """Freeze the tree until no new process appears, then kill all of it; the pids killed."""
    frozen = set()
    while True:
        tree = set(descendants(pid))
        new = tree - frozen
        if not new:
            break
        signal_all(new, signal.SIGSTOP)
        frozen |= new
    signal_all(frozen, signal.SIGKILL)
    return sorted(frozen)


def wait_for_status(url, status, since, timeout):
    """Until the stand-in logs a resource turning ``status`` after ``since`` (epoch seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with urllib.request.urlopen(url + "/_emulator/available", timeout=5) as response:
            entries = json.loads(response.read())["resources"]
        if any(e["status"] == status and e["since"] >= since for e in entries):
            return True
        time.sleep(0.1)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", required=True, help="kill when a TASK line contains this")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before killing")
    parser.add_argument("--emulator", help="the stand-in's URL, for --when-status")
    parser.add_argument("--when-status", help="after the task starts, kill once a resource "
                        "turns this status in the stand-in (e.g. renaming: between two renames)")
    parser.add_argument("--controller-only", action="store_true",
                        help="kill only the controller's process group and leave the module "
                        "running, as an AWX cancel does")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, start_new_session=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            if line.startswith("TASK [") and args.task in line:
                started = time.time()
                if args.when_status and not wait_for_status(args.emulator, args.when_status,
                                                            started, timeout=300):
                    print("NOT KILLED: no resource turned %s" % args.when_status)
                    process.wait()
                    return 4
                time.sleep(args.delay)
                if args.controller_only:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    print("KILLED the controller only, %.1f s into: %s"
                          % (time.time() - started, line.strip()))
                    return 0
                killed = kill_tree(process.pid)
                process.wait()
                time.sleep(0.2)
                survivors = [pid for pid in killed if alive(pid)]
                print("KILLED %.1f s into: %s (%d processes, %d left)"
                      % (time.time() - started, line.strip(), len(killed), len(survivors)))
                return 0 if not survivors else 5
        process.wait()
    print("NOT KILLED: the run ended (rc=%d) before a task matching %r" % (process.returncode, args.task))
    return 3


if __name__ == "__main__":
    sys.exit(main())
