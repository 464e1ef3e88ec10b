# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS calls shared by the modules: retried clients, lookups that return None when absent,
paginated listings and waits that report how long they took."""

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

# Throttling as SSM and KMS spell it, plus RDS's transient state errors worth a retry.
RETRY_CODES = ["ThrottlingException", "ServiceUnavailableException"]


def retrying_client(module, service):
    """A client whose calls, made with aws_retry=True, back off with jitter on throttling."""
    return module.client(service, retry_decorator=AWSRetry.jittered_backoff(
        retries=10, delay=1, max_delay=20, catch_extra_error_codes=RETRY_CODES))


def paginate(client, operation, result_key, **params):
    """Every item of a paginated listing (amazon.aws's paginated query, retried as a whole on
    throttling with this collection's backoff)."""
    backoff = AWSRetry.jittered_backoff(retries=10, delay=1, max_delay=20,
                                        catch_extra_error_codes=RETRY_CODES)
    result = paginated_query_with_retries(client, operation, retry_decorator=backoff, **params)
    return result.get(result_key, [])


def describe_cluster(client, identifier):
    """The cluster as RDS reports it, or None when there is no such cluster."""
    try:
        clusters = client.describe_db_clusters(DBClusterIdentifier=identifier,
                                               aws_retry=True)["DBClusters"]
    except is_boto3_error_code("DBClusterNotFoundFault"):
        return None
    return clusters[0] if clusters else None


def describe_cluster_snapshot(client, identifier):
    """A cluster snapshot by name or ARN (also one shared by another account), or None."""
    if identifier.startswith("arn:"):
        shared = _describe_cluster_snapshot(client, identifier, SnapshotType="shared",
                                            IncludeShared=True)
        if shared is not None:
            return shared
        # Not shared with us: it may be this account's own snapshot, named by its ARN.
        own = _describe_cluster_snapshot(client, identifier.rsplit(":", 1)[-1])
        return own if own and own["DBClusterSnapshotArn"].lower() == identifier.lower() else None
    return _describe_cluster_snapshot(client, identifier)


def _describe_cluster_snapshot(client, identifier, **params):
    params["DBClusterSnapshotIdentifier"] = identifier
    try:
        snapshots = client.describe_db_cluster_snapshots(aws_retry=True, **params)
    except is_boto3_error_code("DBClusterSnapshotNotFoundFault"):
        return None
    # RDS stores snapshot names in lower case, so "Nightly-1" finds "nightly-1".
    wanted = identifier.lower()
    for snapshot in snapshots.get("DBClusterSnapshots", []):
        if wanted in (snapshot["DBClusterSnapshotIdentifier"].lower(),
                      snapshot["DBClusterSnapshotArn"].lower()):
            return snapshot
    return None


def wait_until(check, timeout, delay=2.0, sleep=time.sleep):
    """Call ``check()`` until it returns something truthy or ``timeout`` seconds pass.

    Returns (result, polls, seconds).  The first poll happens at once, so a resource that
    is already there costs no wait.
    """
    start = time.monotonic()
    polls = 0
    while True:
        polls += 1
        result = check()
        elapsed = time.monotonic() - start
        if result or elapsed >= timeout:
            return result, polls, round(elapsed, 2)
        sleep(min(delay, max(0.0, timeout - elapsed)))


def tags_of(resource):
    """The tags of an RDS resource (a Describe* entry, or None) as a dict."""
    return boto3_tag_list_to_ansible_dict((resource or {}).get("TagList") or [])


def described(resource):
    """An RDS resource (a Describe* entry) as the modules return it: snake_case keys, its tags
    as a dict; None stays None."""
    if resource is None:
        return None
    result = snake(resource)
    result.pop("tag_list", None)
    result["tags"] = tags_of(resource)
    return result


def snake(resource):
    """A boto3 response dict with snake_case keys (tags kept as given)."""
    return camel_dict_to_snake_dict(resource or {}, ignore_list=["Tags", "TagList"])


def describe_all(client, operation, result_key, page_size=100, **params):
    """Every item of an RDS Describe* listing, paged by Marker with the largest page RDS allows.

    Unlike ``paginate`` each page is its own call with aws_retry=True, so throttling on page 7
    of 10 retries page 7, not the whole listing.
    """
    method = getattr(client, operation)
    items, marker = [], None
    while True:
        page_params = dict(params, MaxRecords=page_size)
        if marker:
            page_params["Marker"] = marker
        page = method(aws_retry=True, **page_params)
        items.extend(page.get(result_key, []))
        marker = page.get("Marker")
        if not marker:
            return items


def delete(client, fence, cluster, unprotected):
    """Start deleting one cluster: protection off, its instances, then the cluster."""
    identifier = cluster["DBClusterIdentifier"]
    if cluster.get("DeletionProtection"):
        fence.check()
        client.modify_db_cluster(DBClusterIdentifier=identifier, DeletionProtection=False,
                                 ApplyImmediately=True, aws_retry=True)
        unprotected.append(identifier)
    for member in cluster.get("DBClusterMembers", []):
        fence.check()
        try:
            client.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"],
                                      SkipFinalSnapshot=True, aws_retry=True)
        except is_boto3_error_code(["DBInstanceNotFound", "InvalidDBInstanceState"]):
            pass  # already going (a rerun) or gone


def delete_cluster_when_empty(client, fence, identifier):
    """Delete the cluster once its instances are gone; True once it is gone or going."""
    cluster = describe_cluster(client, identifier)
    if cluster is None:
        return True
    if cluster.get("DBClusterMembers"):
        return False
    if cluster.get("Status") == "deleting":
        return True
    fence.check()
    try:
        client.delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True,
                                 aws_retry=True)
    except is_boto3_error_code(["DBClusterNotFoundFault", "InvalidDBClusterStateFault"]):
        pass  # already going (a rerun) or gone
    return True
