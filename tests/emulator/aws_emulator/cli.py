"""aws-emulator: bring the local AWS stand-in up, down, or say what runs.

    aws-emulator up --state-dir DIR [--port 4566] [--creating-seconds N]
                    [--throttle-rate R] [--error-rate R]
    aws-emulator status --state-dir DIR
    aws-emulator config --state-dir DIR [--creating-seconds N] [--throttle-rate R] ...
    aws-emulator down --state-dir DIR
"""

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from aws_emulator import postgres

DEFAULT_PORT = 4566
DEFAULT_REGION = "eu-west-1"
# Per-kind delays (seconds; negative: --creating-seconds), so operations can take real
# proportions: a snapshot minutes, a rename seconds.
DELAY_KINDS = (("snapshot", "snapshots and snapshot copies"), ("cluster", "new clusters"),
               ("instance", "new instances"), ("rename", "cluster renames"),
               ("clone", "copy-on-write clones"))
DELAY_SETTINGS = ("creating_seconds",) + tuple("%s_seconds" % kind for kind, _what in DELAY_KINDS)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EmulatorError(Exception):
    pass


def _state_file(state_dir):
    return os.path.join(state_dir, "state.json")


def read_state(state_dir):
    try:
        with open(_state_file(state_dir), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def _port_is_free(port):
    """True unless something listens there.  SO_REUSEADDR, as the server sets it: connections
    of a server just stopped (TIME_WAIT) do not make the port busy, a listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _http(url, data=None, timeout=5.0):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def _owned_dir(path):
    os.makedirs(path, exist_ok=True)
    postgres.give_to_server_user(path)
    return path


def _pg_root(state_dir):
    """PostgreSQL data must be reachable by the server user; fall back to /tmp if not."""
    root = _owned_dir(os.path.join(state_dir, "pg"))
    if not postgres.server_user_can_write(root):
        os.rmdir(root)
        root = tempfile.mkdtemp(prefix="aws-emulator-pg-")
        postgres.give_to_server_user(root)
    for sub in ("clusters", "snapshots"):
        _owned_dir(os.path.join(root, sub))
    return root


def env_lines(state):
    state_dir = state["state_dir"]
    return [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:%d" % state["port"],
        "export AWS_CONFIG_FILE=%s" % os.path.join(state_dir, "aws", "config"),
        "export AWS_SHARED_CREDENTIALS_FILE=%s" % os.path.join(state_dir, "aws", "credentials"),
        "export AWS_DEFAULT_REGION=%s" % state["region"],
        "export AWS_EMULATOR_STATE_DIR=%s" % state_dir,
    ]


def up(args):
    state_dir = os.path.abspath(args.state_dir)
    state = read_state(state_dir)
    if state and postgres.pid_alive(state["pid"]):
        raise EmulatorError("an emulator already runs for %s (pid %d, port %d); "
                            "run 'aws-emulator down --state-dir %s' first"
                            % (state_dir, state["pid"], state["port"], args.state_dir))
    postgres.find_bindir()
    if args.port == 0:
        args.port = postgres.free_port()
    if not _port_is_free(args.port):
        raise EmulatorError("port %d on 127.0.0.1 is busy: stop what listens there or "
                            "choose another with --port" % args.port)
    os.makedirs(state_dir, exist_ok=True)
    for name in ("servers", "aws"):
        os.makedirs(os.path.join(state_dir, name), exist_ok=True)
    pg_root = socket_dir = None
    process = None
    try:
        pg_root = _pg_root(state_dir)
        socket_dir = tempfile.mkdtemp(prefix="awsemu-")
        postgres.give_to_server_user(socket_dir)
        fleet = postgres.PostgresFleet(pg_root, socket_dir, os.path.join(state_dir, "servers"))
        fleet.make_template()
        log = open(os.path.join(state_dir, "emulator.log"), "ab")  # pylint: disable=consider-using-with
        env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONUNBUFFERED="1")
        # AWS-managed IAM policies (AmazonSSMManagedInstanceCore for the bastion) exist in AWS.
        env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(name, None)
        command = [sys.executable, "-m", "aws_emulator.server", "--state-dir", state_dir,
                   "--pg-root", pg_root, "--socket-dir", socket_dir, "--port", str(args.port),
                   "--region", args.region]
        for name in DELAY_SETTINGS + ("restore_seconds_per_mb", "throttle_rate", "error_rate"):
            command += ["--" + name.replace("_", "-"), str(getattr(args, name))]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=state_dir, env=env, start_new_session=True)
        log.close()
        state = {"pid": process.pid, "port": args.port, "region": args.region,
                 "state_dir": state_dir, "pg_root": pg_root, "socket_dir": socket_dir}
        with open(_state_file(state_dir), "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        _wait_until_up(process, args.port, state_dir)
    except BaseException:
        if process is not None:
            postgres.stop_pid(process.pid, first_signal=15)
        _remove(state_dir, pg_root, socket_dir)
        raise
    with open(os.path.join(state_dir, "env.sh"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(env_lines(state)) + "\n")
    print("\n".join(env_lines(state)))
    return 0


def _wait_until_up(process, port, state_dir, timeout=60.0):
    deadline = time.monotonic() + timeout
    url = "http://127.0.0.1:%d/_emulator/health" % port
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError("the emulator exited during start-up:\n" + _log_tail(state_dir))
        try:
            _http(url, timeout=1.0)
            if os.path.exists(os.path.join(state_dir, "aws", "credentials")):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise EmulatorError("the emulator did not answer on port %d within %ds:\n%s"
                        % (port, timeout, _log_tail(state_dir)))


def _log_tail(state_dir, lines=30):
    try:
        with open(os.path.join(state_dir, "emulator.log"), encoding="utf-8",
                  errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _registered_servers(state_dir):
    servers = []
    for path in sorted(glob.glob(os.path.join(state_dir, "servers", "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                servers.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return servers


def _remove(state_dir, pg_root, socket_dir):
    for path in (pg_root, socket_dir, state_dir):
        if path:
            shutil.rmtree(path, ignore_errors=True)


def down(args):
    state_dir = os.path.abspath(args.state_dir)
    state = read_state(state_dir)
    if state is None:
        print("no emulator state in %s: nothing to stop" % state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
        return 0
    # The emulator stops its servers on SIGTERM; whatever is left is stopped by PID.
    postgres.stop_pid(state["pid"], first_signal=15, timeout=30.0)
    stopped = 0
    for server in _registered_servers(state_dir):
        if postgres.pid_alive(server["pid"]):
            postgres.stop_pid(server["pid"])
            stopped += 1
    _remove(state_dir, state.get("pg_root"), state.get("socket_dir"))
    print("emulator stopped (pid %d)%s; state removed"
          % (state["pid"], ", %d leftover PostgreSQL servers stopped" % stopped if stopped else ""))
    return 0


def status(args):
    state_dir = os.path.abspath(args.state_dir)
    state = read_state(state_dir)
    if state is None or not postgres.pid_alive(state["pid"]):
        print("not running (state dir %s)" % state_dir)
        return 3
    print("running: pid %d, http://127.0.0.1:%d, region %s"
          % (state["pid"], state["port"], state["region"]))
    try:
        servers = _http("http://127.0.0.1:%d/_emulator/servers" % state["port"])
        settings = _http("http://127.0.0.1:%d/_emulator/config" % state["port"])
    except (urllib.error.URLError, OSError) as error:
        print("but it does not answer: %s" % error)
        return 1
    print("settings: %s" % json.dumps(settings))
    print("%d PostgreSQL server(s):" % len(servers))
    for server in servers:
        print("  %(account_id)s %(region)s %(cluster)s port %(port)d pid %(pid)d" % server)
    return 0


def config(args):
    state = read_state(os.path.abspath(args.state_dir))
    if state is None:
        raise EmulatorError("no emulator runs for %s" % args.state_dir)
    names = DELAY_SETTINGS + ("restore_seconds_per_mb", "throttle_rate", "error_rate", "seed")
    update = {key: getattr(args, key) for key in names if getattr(args, key) is not None}
    result = _http("http://127.0.0.1:%d/_emulator/config" % state["port"],
                   data=json.dumps(update).encode("utf-8"))
    print(json.dumps(result))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="aws-emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", up), ("down", down), ("status", status), ("config", config)):
        sub = commands.add_parser(name)
        sub.set_defaults(func=func)
        sub.add_argument("--state-dir", required=True)
        if name == "up":
            sub.add_argument("--port", type=int, default=DEFAULT_PORT,
                             help="HTTP port on 127.0.0.1 (0: any free port)")
            sub.add_argument("--region", default=DEFAULT_REGION)
        if name in ("up", "config"):
            default = 0.0 if name == "up" else None
            sub.add_argument("--creating-seconds", type=float, default=default,
                             help="clusters, instances and snapshots stay 'creating' this long")
            for kind, what in DELAY_KINDS:
                sub.add_argument("--%s-seconds" % kind, type=float,
                                 default=-1.0 if name == "up" else None,
                                 help="%s take this long (negative: --creating-seconds)" % what)
            sub.add_argument("--restore-seconds-per-mb", type=float, default=default,
                             help="a restore from a snapshot takes this much longer per MB")
            sub.add_argument("--throttle-rate", type=float, default=default,
                             help="share of AWS calls answered with a Throttling error")
            sub.add_argument("--error-rate", type=float, default=default,
                             help="share of AWS calls answered with HTTP 503")
            sub.add_argument("--seed", type=int, default=None)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (EmulatorError, postgres.PostgresError) as error:
        print("aws-emulator: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
