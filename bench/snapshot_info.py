#!/usr/bin/env python
"""Benchmark: dbops.aurora.snapshot_info over 1,000 shared snapshots on the local emulator.

Brings up its own emulator, has production share N snapshots (of an aurora-mysql cluster, so
no PostgreSQL copies are made) with acceptance, runs snapshot_info once in-process from
acceptance, and prints the AWS API calls it made (from /_emulator/calls) and its wall time.

    .venv/bin/python bench/snapshot_info.py [--count 1000]
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "aws-emulator")
ACCEPTANCE = "222222222222"


def emulator_up(state_dir):
    out = subprocess.run([EMULATOR, "up", "--state-dir", state_dir, "--port", "0"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            env[key] = value
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.pop(key, None)
    os.environ.update(env)
    return env["AWS_ENDPOINT_URL"]


def control(url, name):
    with urllib.request.urlopen(url + "/_emulator/" + name, timeout=10) as response:
        return json.loads(response.read())


def share_snapshots(count):
    """Half from production, half from another account (moto caps an account at 1,000)."""
    import boto3  # pylint: disable=import-outside-toplevel
    production = boto3.Session(profile_name="production")
    credentials = production.client("sts").assume_role(
        RoleArn="arn:aws:iam::333333333333:role/bench", RoleSessionName="bench")["Credentials"]
    other = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"])
    for session, share in ((production, count - count // 2), (other, count // 2)):
        rds = session.client("rds")
        rds.create_db_cluster(DBClusterIdentifier="bench-src", Engine="aurora-mysql",
                              MasterUsername="admin", MasterUserPassword="bench-password-1")
        for index in range(share):
            name = "bench-%04d" % index
            rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=name,
                                           DBClusterIdentifier="bench-src")
            rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=name,
                                                     AttributeName="restore",
                                                     ValuesToAdd=[ACCEPTANCE])


def run_snapshot_info(args):
    """The module in-process, as the unit tests run it: no ansible start-up in the figure."""
    # pylint: disable=import-outside-toplevel
    import ansible_collections
    from ansible.module_utils.testing import patch_module_args
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    site = os.path.dirname(list(ansible_collections.__path__)[0])
    for name in [n for n in sys.modules if n.split(".")[0] == "ansible_collections"]:
        del sys.modules[name]
    _AnsibleCollectionFinder(paths=[os.path.join(ROOT, ".collections"), site])._install()
    import importlib
    module = importlib.import_module(
        "ansible_collections.dbops.aurora.plugins.modules.snapshot_info")
    stdout = io.StringIO()
    with patch_module_args(dict(args, profile="acceptance")), \
            contextlib.redirect_stdout(stdout):
        try:
            module.main()
        except SystemExit:
            pass
    output = stdout.getvalue()
    return json.loads(output[output.index("{"):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    options = parser.parse_args()
    state_dir = tempfile.mkdtemp(prefix="bench-snapshot-info-")
    try:
        url = emulator_up(state_dir)
        start = time.monotonic()
        share_snapshots(options.count)
        setup_seconds = time.monotonic() - start
        control(url, "calls?reset=1")
        start = time.monotonic()
        result = run_snapshot_info({"source_account_ids": ["111111111111"],
                                    "source_cluster_identifier": "bench-src",
                                    "engine": "aurora-mysql"})
        seconds = time.monotonic() - start
        calls = control(url, "calls")
    finally:
        subprocess.run([EMULATOR, "down", "--state-dir", state_dir], capture_output=True,
                       check=False, timeout=120)
    if result.get("failed"):
        sys.exit("snapshot_info failed: %s" % result.get("msg"))
    print("shared snapshots:  %d (set up in %.1f s)" % (options.count, setup_seconds))
    print("listed:            %d, selected %d, latest %s, rejected %s"
          % (result["total"], len(result["snapshots"]), result["latest"]["snapshot_name"],
             result["rejection_summary"]))
    print("API calls:         %d %s" % (calls["total"], json.dumps(calls["calls"])))
    print("wall time:         %.2f s" % seconds)


if __name__ == "__main__":
    main()
