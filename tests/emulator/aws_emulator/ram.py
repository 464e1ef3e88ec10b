"""AWS RAM behaviour moto 5 lacks, for Aurora cross-account cloning.

Each patch below reproduces one documented AWS behaviour; tests/unit/test_emulator_clone.py
proves each end to end.

- AWS: AssociateResourceShare adds resources and principals to an existing share (validated
  as CreateResourceShare validates them); DisassociateResourceShare removes them.
- AWS: an account outside the sharer's organisation receives an invitation for every share
  naming it (status PENDING) and sees nothing shared until it accepts.  The emulator has no
  organisation, so every account principal is external and always invited.
  GetResourceShareInvitations lists the caller's invitations; AcceptResourceShareInvitation
  accepts one addressed to the caller (ResourceShareInvitationArnNotFoundException otherwise,
  ResourceShareInvitationAlreadyAcceptedException the second time).
- AWS: GetResourceShareAssociations reports an invited account ASSOCIATING until it accepts,
  then ASSOCIATED, both ``external``.
- ``cluster_shared_with`` tells rds.py whether an Aurora cluster is shared with an account.
"""

import json
import re
import uuid

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time, utcnow
from moto.ram import urls as ram_urls
from moto.ram.exceptions import MalformedArnException, UnknownResourceException
from moto.ram.models import ResourceAccessManagerBackend, ram_backends
from moto.ram.responses import ResourceAccessManagerResponse

_ACCOUNT = re.compile(r"^\d{12}$")
_INVITATION_ARN = re.compile(r"^arn:aws:ram:[a-z0-9-]+:\d{12}:resource-share-invitation/.+$")
_PATHS = ("associateresourceshare", "disassociateresourceshare", "getresourceshareinvitations",
          "acceptresourceshareinvitation")


class InvitationError(JsonRESTError):
    code = 400


class Invitation:
    """An invitation to one share, in the receiving account."""

    def __init__(self, share, receiver):
        self.arn = "arn:aws:ram:%s:%s:resource-share-invitation/%s" % (
            share.region, share.account_id, uuid.uuid4())
        self.share = share
        self.receiver = receiver
        self.status = "PENDING"
        self.timestamp = utcnow()

    def describe(self):
        return {"resourceShareInvitationArn": self.arn,
                "resourceShareName": self.share.name,
                "resourceShareArn": self.share.arn,
                "senderAccountId": self.share.account_id,
                "receiverAccountId": self.receiver,
                "invitationTimestamp": unix_time(self.timestamp),
                "status": self.status}


def _invitations(share):
    """The share's invitations by receiving account (kept on the share: gone with a reset)."""
    return share.__dict__.setdefault("emulator_invitations", {})


def _invite(share, principals):
    for principal in principals:
        if _ACCOUNT.match(principal) and principal != share.account_id \
                and principal not in _invitations(share):
            _invitations(share)[principal] = Invitation(share, principal)


def _association(share, entity, kind, status):
    return {"resourceShareArn": share.arn, "resourceShareName": share.name,
            "associatedEntity": entity, "associationType": kind, "status": status,
            "creationTime": unix_time(share.creation_time),
            "lastUpdatedTime": unix_time(share.last_updated_time),
            "external": kind == "PRINCIPAL" and bool(_ACCOUNT.match(entity))}


def _own_share(backend, share_arn):
    for share in backend.resource_shares:
        if share.arn == share_arn and share.status == "ACTIVE":
            return share
    raise UnknownResourceException("ResourceShare %s could not be found." % share_arn)


_original_create_share = ResourceAccessManagerBackend.create_resource_share
_original_associations = ResourceAccessManagerBackend.get_resource_share_associations


def create_resource_share(self, **kwargs):
    result = _original_create_share(self, **kwargs)
    _invite(self.resource_shares[-1], kwargs.get("principals", []))
    return result


def associate_resource_share(self, share_arn, resource_arns, principals):
    share = _own_share(self, share_arn)
    resource_arns = [arn for arn in resource_arns if arn not in share.resource_arns]
    principals = [principal for principal in principals if principal not in share.principals]
    count = len(share.resource_arns)
    share.add_resources(resource_arns)
    try:
        share.add_principals(principals)
    except Exception:
        del share.resource_arns[count:]  # all or nothing, as AWS validates the whole request
        raise
    _invite(share, principals)
    share.last_updated_time = utcnow()
    return {"resourceShareAssociations":
            [_association(share, arn, "RESOURCE", "ASSOCIATING") for arn in resource_arns]
            + [_association(share, principal, "PRINCIPAL", "ASSOCIATING")
               for principal in principals]}


def disassociate_resource_share(self, share_arn, resource_arns, principals):
    share = _own_share(self, share_arn)
    resource_arns = [arn for arn in resource_arns if arn in share.resource_arns]
    principals = [principal for principal in principals if principal in share.principals]
    for arn in resource_arns:
        share.resource_arns.remove(arn)
    for principal in principals:
        share.principals.remove(principal)
        _invitations(share).pop(principal, None)
    share.last_updated_time = utcnow()
    return {"resourceShareAssociations":
            [_association(share, arn, "RESOURCE", "DISASSOCIATING") for arn in resource_arns]
            + [_association(share, principal, "PRINCIPAL", "DISASSOCIATING")
               for principal in principals]}


def get_resource_share_associations(self, association_type, association_status,
                                    resource_share_arns, resource_arn, principal):
    # moto validates the request, then reports every association with the status asked for.
    result = _original_associations(self, association_type, association_status,
                                    resource_share_arns, resource_arn, principal)
    shares = {share.arn: share for share in self.resource_shares}
    for entry in result["resourceShareAssociations"]:
        invitation = _invitations(shares[entry["resourceShareArn"]]).get(entry["associatedEntity"])
        entry["status"] = "ASSOCIATED"
        if entry["associationType"] == "PRINCIPAL" and invitation is not None:
            entry["external"] = True
            if invitation.status != "ACCEPTED":
                entry["status"] = "ASSOCIATING"
    result["resourceShareAssociations"] = [
        entry for entry in result["resourceShareAssociations"]
        if association_status in (None, entry["status"])]
    return result


def _received(account_id, region):
    """Every invitation addressed to ``account_id`` in ``region``."""
    for _account, backend_region, backend in ram_backends.iter_backends():
        if backend_region != region:
            continue
        for share in list(backend.resource_shares):
            invitation = _invitations(share).get(account_id)
            if invitation is not None:
                yield invitation


def get_resource_share_invitations(self, invitation_arns, share_arns):
    invitations = [invitation.describe() for invitation in _received(self.account_id,
                                                                     self.region_name)
                   if (not invitation_arns or invitation.arn in invitation_arns)
                   and (not share_arns or invitation.share.arn in share_arns)]
    return {"resourceShareInvitations": invitations}


def accept_resource_share_invitation(self, invitation_arn):
    if not _INVITATION_ARN.match(invitation_arn or ""):
        raise MalformedArnException("The specified invitation ARN %s is not valid. Verify the "
                                    "ARN and try again." % invitation_arn)
    invitation = next((invitation for invitation in _received(self.account_id, self.region_name)
                       if invitation.arn == invitation_arn), None)
    if invitation is None:
        raise InvitationError("ResourceShareInvitationArnNotFoundException",
                              "ResourceShareInvitationArn %s could not be found." % invitation_arn)
    if invitation.status == "ACCEPTED":
        raise InvitationError("ResourceShareInvitationAlreadyAcceptedException",
                              "The invitation %s has already been accepted." % invitation_arn)
    invitation.status = "ACCEPTED"
    return {"resourceShareInvitation": invitation.describe()}


def cluster_shared_with(cluster_arn, account_id):
    """True when an ACTIVE share of the cluster's owner lists the cluster and ``account_id``,
    and that account accepted its invitation: what AWS requires to see or clone the cluster."""
    parts = cluster_arn.split(":")
    region, owner = parts[3], parts[4]
    backend = ram_backends.get(owner, {}).get(region)
    for share in list(backend.resource_shares if backend is not None else []):
        invitation = _invitations(share).get(account_id)
        if share.status == "ACTIVE" and account_id in share.principals \
                and cluster_arn.lower() in (arn.lower() for arn in share.resource_arns) \
                and invitation is not None and invitation.status == "ACCEPTED":
            return True
    return False


def shared_cluster_arns(account_id, region):
    """The ARNs of the clusters other accounts share with ``account_id`` (accepted)."""
    arns = []
    for invitation in _received(account_id, region):
        arns += [arn for arn in invitation.share.resource_arns if ":cluster:" in arn
                 and cluster_shared_with(arn, account_id) and arn not in arns]
    return arns


# --- over HTTP (RAM is REST-JSON: one POST path per operation) -------------------------

def _associate_response(self):
    params = self.request_params
    return _json(self.ram_backend.associate_resource_share(
        params.get("resourceShareArn"), params.get("resourceArns") or [],
        params.get("principals") or []), params)


def _disassociate_response(self):
    params = self.request_params
    return _json(self.ram_backend.disassociate_resource_share(
        params.get("resourceShareArn"), params.get("resourceArns") or [],
        params.get("principals") or []), params)


def _invitations_response(self):
    params = self.request_params
    return _json(self.ram_backend.get_resource_share_invitations(
        params.get("resourceShareInvitationArns") or [], params.get("resourceShareArns") or []))


def _accept_response(self):
    params = self.request_params
    return _json(self.ram_backend.accept_resource_share_invitation(
        params.get("resourceShareInvitationArn")), params)


def _json(result, params=None):
    if params and params.get("clientToken"):
        result["clientToken"] = params["clientToken"]
    return json.dumps(result)


def install():
    """Apply every patch; call before the server builds its RAM app (it reads url_paths)."""
    for path in _PATHS:
        ram_urls.url_paths["{0}/%s$" % path] = ResourceAccessManagerResponse.dispatch
    backend = ResourceAccessManagerBackend
    backend.create_resource_share = create_resource_share
    backend.associate_resource_share = associate_resource_share
    backend.disassociate_resource_share = disassociate_resource_share
    backend.get_resource_share_associations = get_resource_share_associations
    backend.get_resource_share_invitations = get_resource_share_invitations
    backend.accept_resource_share_invitation = accept_resource_share_invitation
    response = ResourceAccessManagerResponse
    response.associate_resource_share = _associate_response
    response.disassociate_resource_share = _disassociate_response
    response.get_resource_share_invitations = _invitations_response
    response.accept_resource_share_invitation = _accept_response
