"""Real PostgreSQL servers behind the emulated Aurora clusters.

Every cluster gets its own server: a data directory copied from a template made once by
initdb, started on a free loopback port.  Passwords are checked with scram-sha-256 over
TCP; only the emulator's own unix socket (mode 0700) trusts, for housekeeping.
A snapshot is a pg_basebackup of the running server; a restore starts a new server from a
copy of it.  PostgreSQL refuses to run as root, so when the emulator runs as root every
server runs as the ``postgres`` user.
"""

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

HBA = """\
# Housekeeping by the emulator only: the socket directory is mode 0700.
local   all          all                     trust
local   replication  all                     trust
# Clients (applications, tests) must present the cluster's real password.
host    all          all    127.0.0.1/32     scram-sha-256
"""

CONF = """
# dbops.aurora emulator: a throw-away test server, tuned for speed over durability.
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
shared_buffers = 16MB
max_connections = 40
max_wal_senders = 4
wal_level = replica
logging_collector = off
"""


class PostgresError(Exception):
    """A PostgreSQL server could not be created, started, copied or stopped."""


def find_bindir():
    """Directory holding initdb, pg_ctl and pg_basebackup (newest installed version).

    AWS_EMULATOR_PG_BINDIR overrides the search (and lets a test make PostgreSQL 'missing').
    """
    override = os.environ.get("AWS_EMULATOR_PG_BINDIR")
    if override is not None:
        if os.access(os.path.join(override, "initdb"), os.X_OK):
            return override
        raise PostgresError("PostgreSQL server binaries (initdb, pg_ctl) are missing from "
                            "AWS_EMULATOR_PG_BINDIR=%s: install them with "
                            "'apt-get install -y postgresql'" % override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if os.access(os.path.join(bindir, "initdb"), os.X_OK):
            return bindir
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise PostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) are missing: "
        "install them with 'apt-get install -y postgresql'"
    )


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runs_as_root():
    return os.geteuid() == 0


def server_user():
    """The OS user the servers run as."""
    return "postgres" if _runs_as_root() else pwd.getpwuid(os.geteuid()).pw_name


def _as_server_user(cmd):
    if _runs_as_root():
        return ["runuser", "-u", "postgres", "--"] + list(cmd)
    return list(cmd)


def _run(cmd, timeout=120):
    result = subprocess.run(
        _as_server_user(cmd), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise PostgresError(
            "%s failed (exit %s): %s" % (os.path.basename(cmd[0]), result.returncode,
                                         (result.stderr or result.stdout).strip()[-2000:])
        )
    return result


def give_to_server_user(path):
    if _runs_as_root():
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def server_user_can_write(path):
    result = subprocess.run(
        _as_server_user(["test", "-w", path, "-a", "-x", path]), check=False
    )
    return result.returncode == 0


def standalone_fleet(prefix, registry_dir=None):
    """A fleet outside any emulator (tests, benchmarks, the migrate scenario's source): a new
    directory of /tmp the server user can reach, with the template made.  Returns (fleet, root);
    the caller destroys its servers and removes root."""
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o755)
    for sub in ("clusters", "sockets", "servers"):
        os.makedirs(os.path.join(root, sub))
        give_to_server_user(os.path.join(root, sub))
    give_to_server_user(root)
    fleet = PostgresFleet(root, os.path.join(root, "sockets"), registry_dir or os.path.join(root, "servers"))
    fleet.make_template()
    return fleet, root


class PostgresFleet:
    """All servers of one emulator, with a registry on disk so 'down' can stop them by PID."""

    def __init__(self, root, socket_dir, registry_dir):
        self.bindir = find_bindir()
        self.root = root
        self.socket_dir = socket_dir
        self.registry_dir = registry_dir
        self.template = os.path.join(root, "template")

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def make_template(self):
        """initdb once; every new cluster starts from a copy of this directory."""
        if os.path.isdir(self.template):
            return
        _run([self._bin("initdb"), "-D", self.template, "-U", "postgres", "-E", "UTF8",
              "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
              "--no-sync"])
        with open(os.path.join(self.template, "pg_hba.conf"), "w", encoding="utf-8") as hba:
            hba.write(HBA)
        with open(os.path.join(self.template, "postgresql.conf"), "a", encoding="utf-8") as conf:
            conf.write(CONF)

    def _copy_tree(self, source, target):
        _run(["cp", "-a", source, target])

    def new_server(self, label, master_username, master_password, database_name):
        data_dir = os.path.join(self.root, "clusters", uuid.uuid4().hex[:12])
        self._copy_tree(self.template, data_dir)
        server = PostgresServer(self, data_dir, label)
        server.start()
        try:
            server.create_master(master_username, master_password, database_name)
        except Exception:
            server.destroy()
            raise
        return server

    def server_from_snapshot(self, snapshot_dir, label):
        data_dir = os.path.join(self.root, "clusters", uuid.uuid4().hex[:12])
        self._copy_tree(snapshot_dir, data_dir)
        server = PostgresServer(self, data_dir, label)
        server.start()
        return server

    def copy_snapshot(self, snapshot_dir):
        """Snapshots are never written to, so a copy can share their files (hard links)."""
        target = os.path.join(self.root, "snapshots", uuid.uuid4().hex[:12])
        _run(["cp", "-al", snapshot_dir, target])
        return target

    def remove_snapshot(self, snapshot_dir):
        shutil.rmtree(snapshot_dir, ignore_errors=True)


class PostgresServer:
    """One running server: its data directory, port and postmaster PID."""

    def __init__(self, fleet, data_dir, label):
        self.fleet = fleet
        self.data_dir = data_dir
        self.label = label
        self.port = None
        self.pid = None
        self.server_id = os.path.basename(data_dir)

    @property
    def registry_file(self):
        return os.path.join(self.fleet.registry_dir, self.server_id + ".json")

    def start(self):
        for attempt in range(5):
            self.port = free_port()
            try:
                _run([self.fleet._bin("pg_ctl"), "-D", self.data_dir, "-w", "-t", "60",
                      "-l", self.data_dir + ".log", "-o",
                      "-p %d -c unix_socket_directories=%s" % (self.port, self.fleet.socket_dir),
                      "start"])
                break
            except PostgresError:
                if attempt == 4:
                    raise
        with open(os.path.join(self.data_dir, "postmaster.pid"), encoding="utf-8") as pidfile:
            self.pid = int(pidfile.readline())
        self.save()

    def save(self):
        with open(self.registry_file, "w", encoding="utf-8") as registry:
            json.dump({"pid": self.pid, "port": self.port, "data_dir": self.data_dir,
                       "label": self.label}, registry)

    def rename(self, label):
        self.label = label
        self.save()

    def connect(self, dbname="postgres"):
        import psycopg2  # pylint: disable=import-outside-toplevel

        conn = psycopg2.connect(host=self.fleet.socket_dir, port=self.port,
                                user="postgres", dbname=dbname)
        conn.autocommit = True
        return conn

    def create_master(self, username, password, database_name):
        from psycopg2 import sql  # pylint: disable=import-outside-toplevel

        conn = self.connect()
        try:
            with conn.cursor() as cur:
                role = sql.Identifier(username)
                if username == "postgres":
                    cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(role), (password,))
                else:
                    # Like Aurora's master user: powerful, but not a true superuser.
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD %s")
                                .format(role), (password,))
                    cur.execute(sql.SQL("GRANT pg_read_all_data, pg_write_all_data, "
                                        "pg_signal_backend TO {} WITH ADMIN OPTION").format(role))
                    cur.execute(sql.SQL("ALTER DATABASE postgres OWNER TO {}").format(role))
                    cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(role))
                if database_name and database_name != "postgres":
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database_name), role))
        finally:
            conn.close()

    def set_password(self, username, password):
        from psycopg2 import sql  # pylint: disable=import-outside-toplevel

        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(username)),
                            (password,))
        finally:
            conn.close()

    def snapshot(self):
        """A consistent physical copy of the running server (pg_basebackup, WAL streamed)."""
        target = os.path.join(self.fleet.root, "snapshots", uuid.uuid4().hex[:12])
        _run([self.fleet._bin("pg_basebackup"), "-h", self.fleet.socket_dir, "-p", str(self.port),
              "-U", "postgres", "-D", target, "-X", "stream", "-c", "fast", "--no-sync"])
        return target

    def stop(self):
        stop_pid(self.pid)
        try:
            os.remove(self.registry_file)
        except FileNotFoundError:
            pass

    def destroy(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            os.remove(self.data_dir + ".log")
        except FileNotFoundError:
            pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it has exited for our purposes.
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid, first_signal=signal.SIGINT, timeout=20.0):
    """Stop a process by PID: a polite signal (SIGINT is PostgreSQL's fast shutdown), then KILL."""
    if not pid or not pid_alive(pid):
        return
    try:
        os.kill(pid, first_signal)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
