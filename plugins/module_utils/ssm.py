# -*- coding: utf-8 -*-
# Copyright: dbops.aurora contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSM Parameter Store calls shared by the pointer and lock modules.

Reads return None when a parameter is absent.  Writes go through ``write_parameter``, a
compare-and-swap built on parameter versions: SSM numbers every write, so a write made after
reading version N must come back as version N + 1, or someone else wrote in between.
"""

import datetime

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing dependency

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.dbops.aurora.plugins.module_utils.rds import paginate

# SSM keeps at most 100 versions; one page of history holds at most 50.
HISTORY_PAGE_SIZE = 50


class ConcurrentChange(Exception):
    """Another writer changed the parameter between our read and our write."""

    def __init__(self, name, expected, found, theirs=None, restored=None):
        self.name = name
        self.expected = expected
        self.found = found
        self.theirs = theirs
        self.restored = restored
        super().__init__(self.describe())

    def describe(self):
        msg = ("parameter %s was changed by someone else between read and write: version %s "
               "expected, found %s" % (self.name, self.expected, self.found))
        if self.theirs is not None:
            msg += " (version %s, value %r, was written concurrently)" % (
                self.theirs.get("Version"), self.theirs.get("Value"))
        if self.restored is True:
            msg += "; their value was put back so their update is not lost"
        elif self.restored is False:
            msg += ("; their value could not be put back because the parameter changed again: "
                    "check its history")
        return msg

    def as_dict(self):
        return {"parameter": self.name, "expected_version": self.expected,
                "found_version": self.found, "restored": self.restored,
                "their_value": (self.theirs or {}).get("Value")}


def get_parameter(client, name):
    """The parameter (Name, Value, Version, ...) or None when it does not exist."""
    try:
        return client.get_parameter(Name=name, aws_retry=True)["Parameter"]
    except is_boto3_error_code("ParameterNotFound"):
        return None


def parameter_history(client, name):
    """Every version SSM still keeps, oldest first ([] when the parameter does not exist)."""
    try:
        return paginate(client, "get_parameter_history", "Parameters", Name=name,
                        PaginationConfig={"PageSize": HISTORY_PAGE_SIZE})
    except is_boto3_error_code("ParameterNotFound"):
        return []


def history_entries(versions, limit):
    """The newest ``limit`` versions, newest first, in snake_case."""
    newest = sorted(versions, key=lambda version: version["Version"], reverse=True)[:limit]
    return [{"version": v["Version"], "value": v.get("Value"),
             "last_modified_date": iso(v.get("LastModifiedDate")),
             "last_modified_user": v.get("LastModifiedUser"),
             "labels": v.get("Labels", [])} for v in newest]


def parameter_tags(client, name):
    """The parameter's tags as a dict ({} when it has none)."""
    tags = client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name,
                                         aws_retry=True).get("TagList", [])
    return boto3_tag_list_to_ansible_dict(tags)


def add_tags(client, name, tags):
    client.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, aws_retry=True,
                                Tags=ansible_dict_to_boto3_tag_list(tags))


def remove_tags(client, name, keys):
    client.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name,
                                     TagKeys=list(keys), aws_retry=True)


def delete_parameter(client, name):
    """Delete the parameter; False when it was already gone."""
    try:
        client.delete_parameter(Name=name, aws_retry=True)
    except is_boto3_error_code("ParameterNotFound"):
        return False
    return True


def write_parameter(client, name, value, read_version, tags=None, description=None):
    """Write ``value`` as the version right after ``read_version``; returns the new version.

    ``read_version`` None means the parameter did not exist when read: it is then created
    only if still absent (SSM refuses Overwrite=False on an existing name), with ``tags``.
    Otherwise SSM has no conditional put, so the check comes after the write: a version
    other than read_version + 1 means another writer got in between.  When one of the
    versions in between holds another value, that update would be lost under ours, so
    their value is put back (itself checked) and ConcurrentChange is raised.  Versions in
    between that hold our own value (a retried request, a twin run) lose nothing.
    """
    params = {"Name": name, "Value": value, "Type": "String", "aws_retry": True}
    if description is not None:
        params["Description"] = description
    if read_version is None:
        if tags:
            params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
        try:
            return client.put_parameter(Overwrite=False, **params)["Version"]
        except is_boto3_error_code("ParameterAlreadyExists"):
            theirs = get_parameter(client, name)
            raise ConcurrentChange(name, 1, theirs["Version"] if theirs else None, theirs)
    version = client.put_parameter(Overwrite=True, **params)["Version"]
    if version == read_version + 1:
        return version
    between = [v for v in parameter_history(client, name)
               if read_version < v["Version"] < version]
    others = [v for v in between if v.get("Value") != value]
    if not others:
        return version
    theirs = others[-1]
    restored = _put_back(client, name, theirs["Value"], version)
    raise ConcurrentChange(name, read_version + 1, version, theirs, restored)


def _put_back(client, name, value, our_version):
    """Restore another writer's value over ours, only if nobody wrote after us."""
    try:
        version = client.put_parameter(Name=name, Value=value, Type="String", Overwrite=True,
                                       aws_retry=True)["Version"]
    except botocore.exceptions.ClientError:
        return False
    return version == our_version + 1


def iso(moment):
    """A datetime as an ISO 8601 UTC string ('2024-05-01T02:00:00Z'); None stays None."""
    if moment is None:
        return None
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_iso(text):
    """The datetime of an ISO 8601 string written by ``iso`` (or with an offset), or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment
