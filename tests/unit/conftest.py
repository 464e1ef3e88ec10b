"""Fixtures: one emulator (moto over HTTP + real PostgreSQL) per test session."""

import json
import os
import socket
import subprocess
import sys
import urllib.request

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "aws-emulator")
PRODUCTION = "111111111111"
ACCEPTANCE = "222222222222"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_emulator(*args, check=True):
    return subprocess.run([EMULATOR] + list(args), capture_output=True, text=True, check=check,
                          timeout=120)


class Emulator:
    """A running emulator: its environment, boto3 sessions per account, control calls."""

    def __init__(self, state_dir, port, env):
        self.state_dir = state_dir
        self.port = port
        self.env = env
        self.url = "http://127.0.0.1:%d" % port

    def session(self, profile):
        return boto3.Session(profile_name=profile)

    def client(self, service, profile="acceptance"):
        return self.session(profile).client(service)

    def control(self, name, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + "/_emulator/" + name, data=data,
                                         method="POST" if data is not None else "GET")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **settings):
        return self.control("config", settings)


def parse_env(text):
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, value = line[len("export "):].split("=", 1)
            env[key] = value
    return env


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("emulator"))
    port = free_port()
    result = run_emulator("up", "--state-dir", state_dir, "--port", str(port))
    env = parse_env(result.stdout)
    ambient = ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    saved = {key: os.environ.get(key) for key in list(env) + ambient}
    for key in ambient:
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        yield Emulator(state_dir, port, env)
    finally:
        run_emulator("down", "--state-dir", state_dir, check=False)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture()
def settings(emulator):
    """Emulator settings for one test, reset afterwards."""
    yield emulator.configure
    emulator.configure(creating_seconds=0, snapshot_seconds=-1, cluster_seconds=-1,
                       instance_seconds=-1, rename_seconds=-1, throttle_rate=0, error_rate=0)


def import_collection_plugin(dotted):
    """Import a plugin of this collection (``plugins.filter.refresh``) as Ansible does, so its
    imports of the collection's module_utils resolve."""
    import importlib  # pylint: disable=import-outside-toplevel
    _install_collection_loader()
    return importlib.import_module("ansible_collections.dbops.aurora." + dotted)


def _install_collection_loader():
    """Import modules as ansible_collections.dbops.aurora... (and amazon.aws beside them)."""
    # pylint: disable=import-outside-toplevel
    import ansible_collections
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    site = os.path.dirname(os.path.dirname(ansible_collections.__file__)) \
        if getattr(ansible_collections, "__file__", None) else \
        os.path.dirname(list(ansible_collections.__path__)[0])
    # The plain namespace package imported above would shadow the finder's ansible_collections
    # (which knows about dbops.aurora): drop it so the next import goes through the finder.
    for name in [name for name in sys.modules
                 if name == "ansible_collections" or name.startswith("ansible_collections.")]:
        del sys.modules[name]
    _AnsibleCollectionFinder(paths=[os.path.join(ROOT, ".collections"), site])._install()


class ModuleResult(dict):
    """What a module returned (its JSON), plus ``failed`` and ``changed`` as attributes."""

    @property
    def failed(self):
        return bool(self.get("failed"))

    @property
    def changed(self):
        return bool(self.get("changed"))


@pytest.fixture(scope="session")
def run_module(emulator):  # pylint: disable=unused-argument
    """Run a module of this collection in-process, against the emulator over real HTTP.

    ``run_module("snapshot", {"db_cluster_identifier": ...}, check_mode=True)`` returns the
    module's JSON result.  Credentials come from the emulator's profiles (``profile``
    defaults to acceptance).
    """
    # pylint: disable=import-outside-toplevel
    import contextlib
    import importlib
    import io

    from ansible.module_utils.testing import patch_module_args

    _install_collection_loader()

    def run(name, args, check_mode=False, diff=False, profile="acceptance"):
        fqcn = name if "." in name else "dbops.aurora." + name
        namespace, collection, short = fqcn.split(".")
        module = importlib.import_module("ansible_collections.%s.%s.plugins.modules.%s"
                                         % (namespace, collection, short))
        module_args = dict(args)
        if profile is not None:  # None: a module that takes no AWS options
            module_args.setdefault("profile", profile)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        stdout = io.StringIO()
        with patch_module_args(module_args), contextlib.redirect_stdout(stdout):
            try:
                module.main()
            except SystemExit:
                pass
        output = stdout.getvalue()
        return ModuleResult(json.loads(output[output.index("{"):]))

    return run


class PostgresDatabase:
    """A fresh database on a real PostgreSQL server, owned by a master user that is not a
    superuser (as on Aurora)."""

    def __init__(self, port, user, password, name):
        self.port = port
        self.user = user
        self.password = password
        self.name = name

    def connect(self):
        import psycopg2  # pylint: disable=import-outside-toplevel
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user,
                                      password=self.password, dbname=self.name)
        connection.autocommit = True
        return connection

    def run(self, sql, params=None):
        """Run SQL; the rows when it returns any."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else None
        finally:
            connection.close()

    def login(self):
        """The modules' login options for this database."""
        return {"login_host": "127.0.0.1", "login_port": self.port, "login_user": self.user,
                "login_db": self.name}


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the tests that need SQL, started and stopped by PID."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
    from aws_emulator import postgres  # pylint: disable=import-outside-toplevel

    fleet, root = postgres.standalone_fleet("dbops-pytest-pg-")
    server = fleet.new_server("pytest", "dbadmin", "pytest-password", None)
    try:
        yield server
    finally:
        server.destroy()
        import shutil  # pylint: disable=import-outside-toplevel
        shutil.rmtree(root, ignore_errors=True)


def _as_superuser(server, statement):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture()
def database(postgres_server, monkeypatch):
    """A new empty database for one test; PGPASSWORD set as the modules expect it."""
    import uuid  # pylint: disable=import-outside-toplevel
    name = "t" + uuid.uuid4().hex[:10]
    _as_superuser(postgres_server, 'CREATE DATABASE "%s" OWNER dbadmin' % name)
    monkeypatch.setenv("PGPASSWORD", "pytest-password")
    yield PostgresDatabase(postgres_server.port, "dbadmin", "pytest-password", name)
    _as_superuser(postgres_server, 'DROP DATABASE "%s" WITH (FORCE)' % name)
