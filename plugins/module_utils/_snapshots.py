# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster snapshot helpers shared by the snapshot, snapshot_info and snapshot_prune modules."""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.dbops.aurora.plugins.module_utils.conventions import SOURCE_CREATED_TAG
from ansible_collections.dbops.aurora.plugins.module_utils.rds import describe_all, describe_cluster_snapshot
from ansible_collections.dbops.aurora.plugins.module_utils.rds import described, tags_of
from ansible_collections.dbops.aurora.plugins.module_utils.validation import parse_snapshot_arn

# AWS refuses to share snapshots encrypted with this AWS-managed key.
DEFAULT_RDS_KEY_ALIAS = "alias/aws/rds"


def list_cluster_snapshots(client, snapshot_type, **params):
    """One paged listing of cluster snapshots of ``snapshot_type`` (shared, manual, automated)."""
    if snapshot_type == "shared":
        params.update(IncludeShared=True)
    return describe_all(client, "describe_db_cluster_snapshots", "DBClusterSnapshots",
                        SnapshotType=snapshot_type, **params)


def snapshot_name(snapshot):
    """The name part: a shared snapshot is listed with its ARN as identifier."""
    identifier = snapshot["DBClusterSnapshotIdentifier"]
    parts = parse_snapshot_arn(identifier)
    return parts["identifier"] if parts else identifier


def owner_account_id(snapshot):
    parts = parse_snapshot_arn(snapshot.get("DBClusterSnapshotArn", ""))
    return parts["account_id"] if parts else None


def snapshot_tags(resource):
    return tags_of(resource)


def age_hours(snapshot, now=None):
    created = snapshot.get("SnapshotCreateTime")
    if created is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return round((now - created).total_seconds() / 3600.0, 4)


def references(snapshot):
    """The ways a pointer or a tag may name this snapshot, lower case (RDS names are)."""
    return {value.lower() for value in (snapshot.get("DBClusterSnapshotIdentifier"),
                                        snapshot.get("DBClusterSnapshotArn"),
                                        snapshot_name(snapshot)) if value}


def snapshot_result(snapshot):
    """A snapshot as the modules return it: snake_case, tags as a dict, owner and age."""
    result = described(snapshot)
    result["snapshot_name"] = snapshot_name(snapshot)
    result["owner_account_id"] = owner_account_id(snapshot)
    result["age_hours"] = age_hours(snapshot)
    result["source_age_hours"] = source_age_hours(snapshot, result["tags"], result["age_hours"])
    return result


def source_age_hours(snapshot, tags, own_age):
    """The age of the data: a copy tagged with its source's creation time is as old as that."""
    created = tags.get(SOURCE_CREATED_TAG)
    if not created:
        return own_age
    try:
        moment = datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return own_age
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return age_hours({"SnapshotCreateTime": moment})


def shared_account_ids(client, name):
    """The accounts a snapshot of this account is shared with (its ``restore`` attribute)."""
    result = client.describe_db_cluster_snapshot_attributes(
        DBClusterSnapshotIdentifier=name, aws_retry=True)
    attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    return sorted({value for attribute in attributes if attribute["AttributeName"] == "restore"
                   for value in attribute.get("AttributeValues") or []})


def describe_key(kms, key_id):
    """KMS key metadata, or None when the key does not exist or this account may not read it."""
    try:
        return kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]
    except is_boto3_error_code(["NotFoundException", "AccessDeniedException"]):
        return None


def is_aws_managed_key(kms, key_id):
    """True for the AWS-managed aws/rds key: snapshots encrypted with it cannot be shared."""
    if not key_id:
        return False
    if key_id.endswith(DEFAULT_RDS_KEY_ALIAS):
        return True
    metadata = describe_key(kms, key_id)
    return bool(metadata) and metadata.get("KeyManager") == "AWS"


def available_snapshot(rds, field, reference, fail):
    """The cluster snapshot ``reference`` (name or ARN) given as option ``field``; ``fail(msg)``
    unless this account sees it and it is ``available``."""
    snapshot = describe_cluster_snapshot(rds, reference)
    if snapshot is None:
        fail("%s %r: no such cluster snapshot visible to this account (a snapshot of another "
             "account must be shared with it and named by its ARN)" % (field, reference))
    if snapshot["Status"] != "available":
        fail("%s %r is %s, not available; wait for it or choose another"
             % (field, reference, snapshot["Status"]))
    return snapshot
