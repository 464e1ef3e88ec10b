"""Count production's personal values found in acceptance's view of the data.

    leaks.py --snapshot ARN            restore this shared snapshot in acceptance (no masking,
                                       nothing of the collection), look, delete what it made
    leaks.py --serving                 look at the cluster behind acceptance's secret

Production's values (every e-mail, name, phone and shipping address) are read with production's
credentials.  Prints JSON: leaked (values of production found), customers, orders, and the
columns dbops_masking.applied records.
"""

import argparse
import json
import time

import boto3
import psycopg2

QUERY = """
SELECT (SELECT count(*) FROM customers WHERE email = ANY(%(emails)s) OR full_name = ANY(%(names)s)
                                        OR phone = ANY(%(phones)s))
     + (SELECT count(*) FROM orders WHERE customer_email = ANY(%(emails)s)
                                     OR shipping_address = ANY(%(addresses)s)),
       (SELECT count(*) FROM customers), (SELECT count(*) FROM orders)
"""


def secret(profile, parameter):
    session = boto3.Session(profile_name=profile)
    arn = session.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    return json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def connect(host, port, credentials):
    return psycopg2.connect(host=host, port=port, user=credentials["username"],
                            password=credentials["password"], dbname=credentials["dbname"],
                            connect_timeout=10)


def production_values(production):
    with connect(production["host"], production["port"], production) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT array_agg(email), array_agg(full_name), array_agg(phone) FROM customers")
            emails, names, phones = cursor.fetchone()
            cursor.execute("SELECT array_agg(shipping_address) FROM orders")
            addresses = cursor.fetchone()[0]
    return {"emails": emails, "names": names, "phones": phones, "addresses": addresses}


def look(host, port, credentials, values):
    with connect(host, port, credentials) as connection:
        with connection.cursor() as cursor:
            cursor.execute(QUERY, values)
            leaked, customers, orders = cursor.fetchone()
            recorded = []
            cursor.execute("SELECT to_regclass('dbops_masking.applied') IS NOT NULL")
            if cursor.fetchone()[0]:
                cursor.execute("SELECT table_name || '.' || column_name FROM dbops_masking.applied ORDER BY 1")
                recorded = [row[0] for row in cursor.fetchall()]
    return {"leaked": leaked, "customers": customers, "orders": orders, "recorded": recorded}


def wait_until(check, timeout=300):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("still waiting after %d s" % timeout)
        time.sleep(1)


def restore_and_look(snapshot_arn, production, values):
    """Restore the shared snapshot as acceptance can, with no masking of ours, and look."""
    rds = boto3.Session(profile_name="acceptance").client("rds")
    name = "inspect-shared"
    # Acceptance restores what is shared with it through a copy under its own key.
    rds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=snapshot_arn,
                                 TargetDBClusterSnapshotIdentifier=name, KmsKeyId="alias/app-acceptance")
    wait_until(lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)
               ["DBClusterSnapshots"][0]["Status"] == "available")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier=name, SnapshotIdentifier=name,
                                         Engine="aurora-postgresql")
    try:
        rds.create_db_instance(DBInstanceIdentifier=name + "-1", DBClusterIdentifier=name,
                               DBInstanceClass="db.serverless", Engine="aurora-postgresql")
        wait_until(lambda: rds.describe_db_instances(DBInstanceIdentifier=name + "-1")
                   ["DBInstances"][0]["DBInstanceStatus"] == "available")
        cluster = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
        # The snapshot keeps production's master password: the restored copy opens with it.
        return look(cluster["Endpoint"], cluster["Port"], production, values)
    finally:
        try:
            rds.delete_db_instance(DBInstanceIdentifier=name + "-1", SkipFinalSnapshot=True)
        except rds.exceptions.DBInstanceNotFoundFault:
            pass
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--snapshot")
    where.add_argument("--serving", action="store_true")
    args = parser.parse_args()
    production = secret("production", "/app/production/db-credentials-arn")
    values = production_values(production)
    if args.snapshot:
        found = restore_and_look(args.snapshot, production, values)
    else:
        acceptance = secret("acceptance", "/app/acceptance/db-credentials-arn")
        found = look(acceptance["host"], acceptance["port"], acceptance, values)
    found["production_emails"] = len(values["emails"])
    print(json.dumps(found))


if __name__ == "__main__":
    main()
