"""Fixtures: one emulator (moto over HTTP + real PostgreSQL) per test session."""

import json
import os
import socket
import subprocess
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
            key, _, value = line[len("export "):].partition("=")
            env[key] = value
    return env


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("emulator"))
    port = free_port()
    result = run_emulator("up", "--state-dir", state_dir, "--port", str(port))
    env = parse_env(result.stdout)
    saved = {key: os.environ.get(key) for key in list(env) + ["AWS_PROFILE",
                                                             "AWS_ACCESS_KEY_ID",
                                                             "AWS_SECRET_ACCESS_KEY"]}
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
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
    emulator.configure(creating_seconds=0, throttle_rate=0, error_rate=0)
