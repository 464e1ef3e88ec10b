"""The baseline bench/refresh.py measures the refresh against: the same essential AWS calls and
SQL as phase 2, in plain boto3 and psycopg2, with none of the collection's checks, records or
retries.  It answers "what does a refresh cost at the least", so the ratio shows what Ansible
and the collection's safety add.

Steps, as the refresh does them: read the serving cluster's settings, copy the shared snapshot
under its key, restore a new cluster with those settings, create its instance, reset the master
password from the secret, mask by the rules (one UPDATE per table), run the sanitising SQL and
the smoke checks, rename the serving cluster away and the new one in, point the secret and the
SSM outputs at it, delete the clusters put aside beyond the ones kept.  Not done: the lock, the pointers, the guards, tags, check mode,
resumption after a crash.
"""

import hashlib
import json
import time

import boto3
import psycopg2


def _wait(check, timeout, poll):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError("still waiting after %s s" % timeout)
        time.sleep(poll)


def _cluster(rds, identifier):
    try:
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except rds.exceptions.DBClusterNotFoundFault:
        return None


def _available_cluster(rds, identifier, resource_id=None):
    def check():
        cluster = _cluster(rds, identifier)
        if cluster and cluster["Status"] == "available" and (
                resource_id is None or cluster["DbClusterResourceId"] == resource_id):
            return cluster
        return None
    return check


def _sql(host, port, user, password, database, statements):
    """Each statement in its own transaction; a smoke check returns one row, column ok."""
    results = []
    with psycopg2.connect(host=host, port=port, user=user, password=password,
                          dbname=database, connect_timeout=10) as connection:
        for statement in statements:
            with connection.cursor() as cursor:
                if callable(statement):  # masking rules, compiled on the new cluster
                    statement(cursor)
                    results.append(None)
                else:
                    cursor.execute(statement)
                    results.append(cursor.fetchone() if cursor.description else None)
            connection.commit()
    return results


def minimal_refresh(session, snapshot_arn, canonical, secret_arn, database, sanitize_sql,
                    smoke_sql, outputs_prefix, keep_previous=1, timeout=600, poll=1.0):
    """One refresh in plain boto3; returns what it did."""
    rds = session.client("rds")
    secrets = session.client("secretsmanager")
    ssm = session.client("ssm")
    serving = _cluster(rds, canonical)
    refresh_id = "r" + hashlib.sha256(snapshot_arn.encode("utf-8")).hexdigest()[:8]
    candidate = "%s-base-%s" % (canonical, refresh_id)

    rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=snapshot_arn,
                                 TargetDBClusterSnapshotIdentifier=candidate,
                                 KmsKeyId=serving["KmsKeyId"])
    _wait(lambda: [s for s in rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=candidate)["DBClusterSnapshots"] if s["Status"] == "available"],
        timeout, poll)

    restore = {"DBClusterIdentifier": candidate, "SnapshotIdentifier": candidate,
               "Engine": serving["Engine"], "EngineVersion": serving["EngineVersion"],
               "KmsKeyId": serving["KmsKeyId"],
               "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in serving["VpcSecurityGroups"]]}
    if serving.get("DBSubnetGroup"):
        restore["DBSubnetGroupName"] = serving["DBSubnetGroup"]
    if serving.get("ServerlessV2ScalingConfiguration"):
        restore["ServerlessV2ScalingConfiguration"] = serving["ServerlessV2ScalingConfiguration"]
    rds.restore_db_cluster_from_snapshot(**restore)
    _wait(_available_cluster(rds, candidate), timeout, poll)
    rds.create_db_instance(DBInstanceIdentifier=candidate + "-1", DBClusterIdentifier=candidate,
                           Engine=serving["Engine"], DBInstanceClass="db.serverless")
    _wait(lambda: rds.describe_db_instances(DBInstanceIdentifier=candidate + "-1")[
        "DBInstances"][0]["DBInstanceStatus"] == "available", timeout, poll)
    secret = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
    rds.modify_db_cluster(DBClusterIdentifier=candidate, MasterUserPassword=secret["password"],
                          ApplyImmediately=True)
    new = _wait(_available_cluster(rds, candidate), timeout, poll)

    checks = _sql(new["Endpoint"], new["Port"], secret["username"], secret["password"], database,
                  list(sanitize_sql) + list(smoke_sql))
    failed = [sql for sql, row in zip(smoke_sql, checks[len(sanitize_sql):]) if not row or not row[0]]
    if failed:
        raise RuntimeError("smoke checks failed: %s" % failed)

    retained = "%s-previous-%s" % (canonical, refresh_id)
    started = time.monotonic()
    rds.modify_db_cluster(DBClusterIdentifier=canonical, NewDBClusterIdentifier=retained,
                          ApplyImmediately=True)
    _wait(_available_cluster(rds, retained, serving["DbClusterResourceId"]), timeout, poll)
    rds.modify_db_cluster(DBClusterIdentifier=candidate, NewDBClusterIdentifier=canonical,
                          ApplyImmediately=True)
    now_serving = _wait(_available_cluster(rds, canonical, new["DbClusterResourceId"]), timeout, poll)
    downtime = time.monotonic() - started

    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(dict(
        secret, host=now_serving["Endpoint"], port=now_serving["Port"],
        dbClusterIdentifier=canonical)))
    for key, value in (("endpoint", now_serving["Endpoint"]), ("port", str(now_serving["Port"])),
                       ("arn", now_serving["DBClusterArn"]), ("source-snapshot", snapshot_arn)):
        ssm.put_parameter(Name="%s/%s" % (outputs_prefix, key), Value=value, Type="String",
                          Overwrite=True)

    put_aside = sorted((c for c in rds.describe_db_clusters()["DBClusters"]
                        if c["DBClusterIdentifier"].startswith(canonical + "-previous-")),
                       key=lambda c: c["ClusterCreateTime"], reverse=True)
    deleted = []
    for cluster in put_aside[keep_previous:]:
        for member in cluster["DBClusterMembers"]:
            rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"],
                                   SkipFinalSnapshot=True)
        _wait(lambda c=cluster: not _cluster(rds, c["DBClusterIdentifier"])["DBClusterMembers"],
              timeout, poll)
        rds.delete_db_cluster(DBClusterIdentifier=cluster["DBClusterIdentifier"],
                              SkipFinalSnapshot=True)
        deleted.append(cluster["DBClusterIdentifier"])
    return {"new_cluster": candidate, "retained": retained, "deleted": deleted,
            "downtime_seconds": round(downtime, 2)}


def masking(rules, salt):
    """The masking rules as the collection compiles them (one UPDATE per table), run with no
    guard, record or proof: a callable for _sql."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "plugins", "module_utils", "_masking.py")
    spec = importlib.util.spec_from_file_location("dbops_masking", path)
    compiler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compiler)

    def run(cursor):
        cursor.execute("SELECT set_config(%s, %s, false)", (compiler.SALT_SETTING, salt))
        for table_rule in compiler.resolve(cursor, compiler.normalise_rules(rules)):
            cursor.execute(compiler.update_sql(table_rule))
    return run


def session_for(profile):
    return boto3.Session(profile_name=profile)


def main():
    """CLI for bench/refresh.py: the environment holds the emulator's endpoint and profiles."""
    import argparse  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", required=True, help="the shared snapshot's ARN")
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "inventories", "local", "host_vars", "acceptance.yml"),
              encoding="utf-8") as handle:
        acceptance = yaml.safe_load(handle)
    session = session_for("acceptance")
    secret_arn = session.client("ssm").get_parameter(
        Name=acceptance["refresh_secret_arn_parameter"])["Parameter"]["Value"]
    with open(os.path.join(root, "inventories", "local", "group_vars", "all.yml"),
              encoding="utf-8") as handle:
        shared = yaml.safe_load(handle)
    sanitize = [masking(shared["dbops_masking_rules"], shared["dbops_masking_salt"])]
    for name in acceptance["refresh_sanitize_sql_files"]:
        with open(os.path.join(root, "playbooks", "files", name), encoding="utf-8") as handle:
            sanitize.append(handle.read())
    started = time.monotonic()
    done = minimal_refresh(session, args.snapshot, "app-acceptance", secret_arn, "app", sanitize,
                           [check["sql"] for check in acceptance["refresh_smoke_checks"]],
                           acceptance["refresh_ssm_outputs_prefix"],
                           keep_previous=acceptance["refresh_keep_previous"], poll=args.poll)
    done["wall_seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
