"""Check the rendered policies' resource scoping against what the jobs really created.

moto enforces IAM on actions only, so the IAM scenario attaches the policies' actions on "*".
This script closes the gap from the other side: after the jobs ran, it lists the real resources
in the emulator (clusters, instances, snapshots, groups, parameters, secrets, the bastion's role
and transfer bucket, the keys' aliases, AWS RAM shares and invitations) and asks of each whether the rendered policy's statements for the action that
touches it name it, with IAM's wildcards.  A name the jobs use but the policy does not cover would
be refused by AWS on the first real run.

Usage: scoping.py POLICY_DIR OUTPUT_JSON  (AWS_* environment of the emulator)
Writes a list of checks: policy, host, action, resource, allowed.
"""

import json
import os
import re
import sys

import boto3

HOSTS = {"production": "111111111111", "acceptance": "222222222222"}


def glob_matches(pattern, value):
    """IAM resource matching: * is any run of characters, ? exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def as_list(value):
    return value if isinstance(value, list) else [value]


def allows(policy, action, resource, key_aliases=(), context=None):
    """Whether an Allow statement of the policy names the action and the resource.

    Conditions are not evaluated, except kms:ResourceAliases, checked against the key's aliases,
    and the StringEquals(IfExists) keys the check gives in ``context`` (a request's values)."""
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        if not any(glob_matches(pattern, action) for pattern in as_list(statement["Action"])):
            continue
        if not any(glob_matches(pattern, resource) for pattern in as_list(statement["Resource"])):
            continue
        condition = statement.get("Condition", {})
        wanted = condition.get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases")
        if wanted is not None and not set(as_list(wanted)) & set(key_aliases):
            continue
        if any(key in (context or {}) and context[key] not in as_list(values)
               for operator in ("StringEquals", "StringEqualsIfExists")
               for key, values in condition.get(operator, {}).items()):
            continue
        return True
    return False


def resources(profile):
    """The names the jobs left in one account, by the action each policy must allow on them."""
    session = boto3.Session(profile_name=profile)
    rds = session.client("rds")
    clusters = rds.describe_db_clusters()["DBClusters"]
    instances = rds.describe_db_instances()["DBInstances"]
    manual = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    shared = rds.describe_db_cluster_snapshots(SnapshotType="shared",
                                               IncludeShared=True)["DBClusterSnapshots"]
    groups = rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    subnet_groups = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    parameters = [p["Name"] for p in session.client("ssm").describe_parameters()["Parameters"]]
    secrets = [s["ARN"] for s in session.client("secretsmanager").list_secrets()["SecretList"]]
    roles = [r["Arn"] for r in session.client("iam").list_roles()["Roles"]
             if r["RoleName"].endswith("-bastion")]
    profiles = [p["Arn"] for p in session.client("iam").list_instance_profiles()["InstanceProfiles"]
                if p["InstanceProfileName"].endswith("-bastion")]
    buckets = ["arn:aws:s3:::" + b["Name"] for b in session.client("s3").list_buckets()["Buckets"]
               if "-ssm-transfer-" in b["Name"]]
    kms = session.client("kms")
    aliases = {}
    for alias in kms.list_aliases()["Aliases"]:
        if "TargetKeyId" in alias:
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    region = session.region_name
    account = HOSTS[profile]
    ssm_arn = "arn:aws:ssm:%s:%s:parameter" % (region, account)
    # AWS RAM: this account's shares with what each shares, the invitations it received.
    ram = session.client("ram")
    shares = [{"arn": share["resourceShareArn"], "name": share["name"],
               "resources": [entry["associatedEntity"] for entry in ram.get_resource_share_associations(
                   associationType="RESOURCE", resourceShareArns=[share["resourceShareArn"]])
                   ["resourceShareAssociations"]]}
              for share in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
              if share["status"] == "ACTIVE"]
    invitations = [entry["resourceShareInvitationArn"] for entry in
                   ram.get_resource_share_invitations()["resourceShareInvitations"]]
    return {
        "clusters": [c["DBClusterArn"] for c in clusters],
        # A cross-account clone, by the name it was created under (the swap records it).
        "clones": [c["DBClusterArn"].rsplit(":", 1)[0] + ":" + tags_of(c).get(
            "dbops:swap-candidate", c["DBClusterIdentifier"]) for c in clusters if c.get("CrossAccountClone")],
        "shares": shares,
        "invitations": invitations,
        "instances": [i["DBInstanceArn"] for i in instances],
        "manual_snapshots": [s["DBClusterSnapshotArn"] for s in manual],
        "shared_snapshots": [s["DBClusterSnapshotArn"] for s in shared],
        "parameter_groups": [g["DBClusterParameterGroupArn"] for g in groups
                             if not g["DBClusterParameterGroupName"].startswith("default")],
        "subnet_groups": [g["DBSubnetGroupArn"] for g in subnet_groups],
        "parameters": ["%s%s" % (ssm_arn, name if name.startswith("/") else "/" + name)
                       for name in parameters],
        "secrets": secrets,
        "transfer_buckets": buckets,
        "bastion_roles": roles,
        "bastion_instance_profiles": profiles,
        # Each cluster's key, with the aliases a kms:ResourceAliases condition sees.
        "cluster_keys": [(key_arn(c["KmsKeyId"], region, account), aliases.get(c["KmsKeyId"].split("/")[-1], []))
                         for c in clusters if c.get("KmsKeyId")],
    }


def tags_of(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("TagList", [])}


def key_arn(key_id, region, account):
    return key_id if key_id.startswith("arn:") else "arn:aws:kms:%s:%s:key/%s" % (region, account, key_id)


def load(policy_dir, host, *names):
    """The statements of a host's policy files, as the one credential holding them all sees them."""
    statements = []
    for name in names:
        with open(os.path.join(policy_dir, host, name + ".json"), encoding="utf-8") as handle:
            statements += json.load(handle)["Statement"]
    return {"Statement": statements}


def checks(policy_dir):
    found = {host: resources(host) for host in HOSTS}
    wanted = []
    for host, names in found.items():
        provisioning = load(policy_dir, host, "provisioning", "provisioning_bastion")
        own_cluster = ":cluster:app-%s" % ("prod" if host == "production" else host)
        canonical = [arn for arn in names["clusters"] if arn.endswith(own_cluster)]
        wanted += [("provisioning", host, provisioning, "rds:ModifyDBCluster", arn) for arn in canonical]
        wanted += [("provisioning", host, provisioning, "rds:DeleteDBClusterParameterGroup", arn)
                   for arn in names["parameter_groups"]]
        wanted += [("provisioning", host, provisioning, "rds:DeleteDBSubnetGroup", arn)
                   for arn in names["subnet_groups"]]
        wanted += [("provisioning", host, provisioning, "secretsmanager:PutSecretValue", arn)
                   for arn in names["secrets"]]
        wanted += [("provisioning", host, provisioning, "ssm:PutParameter", arn)
                   for arn in names["parameters"] if "/%s/" % host in arn and "/app/" in arn
                   and "/refresh/" not in arn]
        wanted += [("provisioning", host, provisioning, "s3:PutBucketPolicy", arn)
                   for arn in names["transfer_buckets"]]
        wanted += [("provisioning", host, provisioning, "s3:DeleteObject", arn + "/any/file.sql")
                   for arn in names["transfer_buckets"]]
        wanted += [("provisioning", host, provisioning, "iam:PutRolePolicy", arn)
                   for arn in names["bastion_roles"]]
        wanted += [("provisioning", host, provisioning, "iam:AddRoleToInstanceProfile", arn)
                   for arn in names["bastion_instance_profiles"]]
        wanted += [("provisioning", host, provisioning, "kms:ScheduleKeyDeletion", key, aliases)
                   for key, aliases in names["cluster_keys"] if canonical]
    production, acceptance = found["production"], found["acceptance"]
    share = load(policy_dir, "production", "production_jobs")
    wanted += [("production_jobs", "production", share, "rds:CreateDBClusterSnapshot", arn)
               for arn in production["clusters"]]
    wanted += [("production_jobs", "production", share, "rds:ModifyDBClusterSnapshotAttribute", arn)
               for arn in production["manual_snapshots"] if "-final-" not in arn]
    wanted += [("production_jobs", "production", share, "kms:DescribeKey", key, aliases)
               for key, aliases in production["cluster_keys"]]
    refresh = load(policy_dir, "acceptance", "acceptance_jobs")
    wanted += [("acceptance_jobs", "acceptance", refresh, "rds:ModifyDBCluster", arn)
               for arn in acceptance["clusters"]]
    wanted += [("acceptance_jobs", "acceptance", refresh, "rds:DeleteDBInstance", arn)
               for arn in acceptance["instances"]]
    # Final snapshots of clones are acceptance_clone's (below).
    wanted += [("acceptance_jobs", "acceptance", refresh, "rds:DeleteDBClusterSnapshot", arn)
               for arn in acceptance["manual_snapshots"] if not is_final_snapshot(arn)]
    wanted += [("acceptance_jobs", "acceptance", refresh, "rds:CopyDBClusterSnapshot", arn)
               for arn in acceptance["shared_snapshots"]]
    wanted += [("acceptance_jobs", "acceptance", refresh, "rds:RestoreDBClusterFromSnapshot", arn)
               for arn in acceptance["parameter_groups"] + acceptance["subnet_groups"]]
    # The refresh's parameters: pointers, outputs, the cluster outputs it repoints, the secret's ARN.
    wanted += [("acceptance_jobs", "acceptance", refresh, "ssm:GetParameter", arn)
               for arn in acceptance["parameters"]
               if re.search(r"/snapshot/|/refresh/|/cluster/|/db-credentials-arn$", arn)]
    wanted += [("acceptance_jobs", "acceptance", refresh, "secretsmanager:PutSecretValue", arn)
               for arn in acceptance["secrets"]]
    wanted += [("acceptance_jobs", "acceptance", refresh, "kms:DescribeKey", key, aliases)
               for key, aliases in acceptance["cluster_keys"]]
    wanted += clone_checks(policy_dir, production, acceptance)
    results = []
    for check in wanted:
        name, host, policy, action, resource = check[:5]
        aliases = check[5] if len(check) > 5 else ()
        context = check[6] if len(check) > 6 else None
        results.append({"policy": name, "host": host, "action": action, "resource": resource,
                        "aliases": list(aliases), "context": context,
                        "allowed": allows(policy, action, resource, aliases, context)})
    return results


def is_final_snapshot(arn):
    """A clone refresh's final snapshot of a clone, <canonical>-final-<refresh id>."""
    return re.search(r":cluster-snapshot:app-acceptance-final-r[0-9a-f]{8}$", arn) is not None


def clone_checks(policy_dir, production, acceptance):
    """The clone refreshes' names: production's share, acceptance's invitations, clones, final
    snapshots and clone pointer, against the policies their credentials hold."""
    share = load(policy_dir, "production", "production_clone")
    wanted = []
    for found in production["shares"]:
        wanted += [("production_clone", "production", share, action, found["arn"], (),
                    {"ram:ResourceShareName": found["name"], "ram:ResourceArn": resource})
                   for action in ("ram:AssociateResourceShare", "ram:TagResource")
                   for resource in found["resources"]]
        wanted += [("production_clone", "production", share, "ram:CreateResourceShare", resource, (),
                    {"ram:ResourceArn": resource}) for resource in found["resources"]]
    wanted += [("production_clone", "production", share, action, key, aliases)
               for action in ("kms:DescribeKey", "kms:GetKeyPolicy")
               for key, aliases in production["cluster_keys"]]
    # The credential of a clone refresh holds acceptance_clone beside acceptance_jobs.
    clone = load(policy_dir, "acceptance", "acceptance_jobs", "acceptance_clone")
    shared_clusters = [resource for found in production["shares"] for resource in found["resources"]
                       if ":cluster:" in resource]
    wanted += [("acceptance_clone", "acceptance", clone, "ram:AcceptResourceShareInvitation", arn)
               for arn in acceptance["invitations"]]
    wanted += [("acceptance_clone", "acceptance", clone, "rds:RestoreDBClusterToPointInTime", arn)
               for arn in shared_clusters + acceptance["clones"] + acceptance["subnet_groups"]
               + acceptance["parameter_groups"]]
    wanted += [("acceptance_clone", "acceptance", clone, action, arn)
               for action in ("rds:CreateDBClusterSnapshot", "rds:DeleteDBCluster")
               for arn in acceptance["clusters"]]
    finals = [arn for arn in acceptance["manual_snapshots"] if is_final_snapshot(arn)]
    wanted += [("acceptance_clone", "acceptance", clone, action, arn)
               for action in ("rds:CreateDBClusterSnapshot", "rds:AddTagsToResource",
                              "rds:DeleteDBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot")
               for arn in finals]
    wanted += [("acceptance_clone", "acceptance", clone, action, arn)
               for action in ("ssm:GetParameter", "ssm:PutParameter")
               for arn in acceptance["parameters"] if "/clone/" in arn]
    # The source cluster's key, asked for directly (clone_lineage), in production's account.
    wanted += [("acceptance_clone", "acceptance", clone, "kms:DescribeKey", key)
               for key, dummy in production["cluster_keys"]]
    return wanted


def main(argv):
    policy_dir, output = argv[1:3]
    results = checks(policy_dir)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print("%d checks, %d refused" % (len(results), sum(not r["allowed"] for r in results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
