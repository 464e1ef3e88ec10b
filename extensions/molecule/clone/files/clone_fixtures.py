"""What the clone scenario does beside the collection's playbooks, through the stand-in's real
APIs (boto3 over HTTP) and real PostgreSQL: clusters, shares and clones made by hand (as
another team would), marks written in production, and observations printed as JSON.

    clone_fixtures.py observe
    clone_fixtures.py mark TEXT                       write TEXT in production's clone_marks
    clone_fixtures.py managed-key-cluster NAME        production cluster under aws/rds, with an instance
    clone_fixtures.py raw-share NAME                  share production's NAME with acceptance, accepted
    clone_fixtures.py raw-clone SOURCE_ARN NAME       clone it into acceptance as NAME (another team's clone)
    clone_fixtures.py delete ACCOUNT NAME             delete a cluster and its instances
"""

import json
import sys
import time

import boto3
import botocore.exceptions
import psycopg2

ACCEPTANCE, PRODUCTION = "acceptance", "production"
ACCEPTANCE_ID = "222222222222"


def client(profile, service):
    return boto3.Session(profile_name=profile).client(service)


def wait_for(check, what, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit("timed out waiting for %s" % what)


def missing(error, code):
    return error.response["Error"]["Code"] == code


def cluster(profile, name):
    try:
        return client(profile, "rds").describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
    except botocore.exceptions.ClientError as error:
        if missing(error, "DBClusterNotFoundFault"):
            return None
        raise


def connect(profile, environment, cluster_name):
    ssm, secrets = client(profile, "ssm"), client(profile, "secretsmanager")
    arn = ssm.get_parameter(Name="/app/%s/db-credentials-arn" % environment)["Parameter"]["Value"]
    secret = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    found = cluster(profile, cluster_name)
    return psycopg2.connect(host="127.0.0.1", port=found["Port"], user=secret["username"],
                            password=secret["password"], dbname="app", connect_timeout=10)


def query(profile, environment, cluster_name, sql):
    with connect(profile, environment, cluster_name) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else None


def mark(text):
    query(PRODUCTION, "production", "app-prod",
          "CREATE TABLE IF NOT EXISTS clone_marks (mark text PRIMARY KEY);"
          "INSERT INTO clone_marks VALUES ('%s') ON CONFLICT DO NOTHING" % text.replace("'", "''"))
    print(json.dumps({"marked": text}))


def tags_of(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("TagList", [])}


def observe():
    rds = client(ACCEPTANCE, "rds")
    clusters = {entry["DBClusterIdentifier"]: {
        "clone_group_id": entry.get("CloneGroupId"), "cross_account_clone": entry.get("CrossAccountClone"),
        "status": entry["Status"], "resource_id": entry["DbClusterResourceId"], "tags": tags_of(entry),
        "backup_retention_period": entry.get("BackupRetentionPeriod"),
        "members": len(entry.get("DBClusterMembers", []))}
        for entry in rds.describe_db_clusters()["DBClusters"]}
    snapshots = {entry["DBClusterSnapshotIdentifier"]: {"status": entry["Status"],
                                                        "tags": tags_of(entry)}
                 for entry in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]}
    source = cluster(PRODUCTION, "app-prod")
    marks, unmasked = None, None
    if "app-acceptance" in clusters:
        unmasked = query(ACCEPTANCE, "acceptance", "app-acceptance",
                         "SELECT count(*) FROM customers WHERE email NOT LIKE '%@masked.invalid'")[0][0]
        marked = query(ACCEPTANCE, "acceptance", "app-acceptance",
                       "SELECT to_regclass('clone_marks') IS NOT NULL")[0][0]
        marks = query(ACCEPTANCE, "acceptance", "app-acceptance",
                      "SELECT mark FROM clone_marks ORDER BY mark") if marked else []
        marks = [row[0] for row in marks]
    pointer = None
    try:
        pointer = json.loads(client(ACCEPTANCE, "ssm").get_parameter(
            Name="/dbops/acceptance/clone/current")["Parameter"]["Value"])
    except botocore.exceptions.ClientError as error:
        if not missing(error, "ParameterNotFound"):
            raise
    print(json.dumps({"clusters": clusters, "snapshots": snapshots, "marks": marks,
                      "unmasked": unmasked, "pointer": pointer,
                      "source": {"arn": source["DBClusterArn"], "clone_group_id": source.get("CloneGroupId")}}))


def managed_key_cluster(name):
    rds = client(PRODUCTION, "rds")
    if cluster(PRODUCTION, name) is None:
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", EngineVersion="16.4",
                              MasterUsername="dbmaster", MasterUserPassword="managed-key-pass-1",
                              StorageEncrypted=True, DatabaseName="app")
        rds.create_db_instance(DBInstanceIdentifier=name + "-1", DBClusterIdentifier=name,
                               Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    wait_for(lambda: cluster(PRODUCTION, name)["Status"] == "available", name)
    print(json.dumps({"arn": cluster(PRODUCTION, name)["DBClusterArn"]}))


def raw_share(name):
    arn = cluster(PRODUCTION, name)["DBClusterArn"]
    share = client(PRODUCTION, "ram").create_resource_share(
        name="raw-" + name, resourceArns=[arn], principals=[ACCEPTANCE_ID])["resourceShare"]
    ram = client(ACCEPTANCE, "ram")
    for invitation in ram.get_resource_share_invitations()["resourceShareInvitations"]:
        if invitation["resourceShareArn"] == share["resourceShareArn"] and invitation["status"] == "PENDING":
            ram.accept_resource_share_invitation(
                resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    print(json.dumps({"arn": arn, "share": share["resourceShareArn"]}))


def raw_clone(source_arn, name):
    client(ACCEPTANCE, "rds").restore_db_cluster_to_point_in_time(
        DBClusterIdentifier=name, SourceDBClusterIdentifier=source_arn, RestoreType="copy-on-write",
        UseLatestRestorableTime=True)
    wait_for(lambda: cluster(ACCEPTANCE, name)["Status"] == "available", name)
    print(json.dumps({"clone": name}))


def delete(profile, name):
    rds = client(profile, "rds")
    found = cluster(profile, name)
    if found is not None:
        for member in found.get("DBClusterMembers", []):
            rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"], SkipFinalSnapshot=True)
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    wait_for(lambda: cluster(profile, name) is None, "%s gone" % name)
    print(json.dumps({"deleted": name}))


def main(argv):
    commands = {"observe": observe, "mark": mark, "managed-key-cluster": managed_key_cluster,
                "raw-share": raw_share, "raw-clone": raw_clone, "delete": delete}
    if not argv or argv[0] not in commands:
        raise SystemExit(__doc__)
    commands[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
