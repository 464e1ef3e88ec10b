"""Run a command (ansible-playbook) and kill it, with all its children, once it starts a task.

    kill_at.py --task "Swap the new cluster in" [--delay 0.5] -- ansible-playbook ...

SIGKILL on the whole process group, as a lost controller or a cancelled AWX job would: no
rescue, no always, no lock release.  Exit 0 when the run was killed, 3 when it ended first.
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", required=True, help="kill when a TASK line contains this")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before killing")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, start_new_session=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            if line.startswith("TASK [") and args.task in line:
                time.sleep(args.delay)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                print("KILLED %.1f s into: %s" % (args.delay, line.strip()))
                return 0
        process.wait()
    print("NOT KILLED: the run ended (rc=%d) before a task matching %r" % (process.returncode, args.task))
    return 3


if __name__ == "__main__":
    sys.exit(main())
