"""A change someone makes by hand between two jobs, which the next job must repair.

Runs with IAM enforcement off (tasks/job.yml), with the emulator's users, never as a job: its
calls are not recorded against any policy.

Usage (AWS_* environment of the emulator):
  by_hand.py drop-share-principal PROFILE SHARE_NAME ACCOUNT
      remove ACCOUNT from the AWS RAM share SHARE_NAME of PROFILE's account (so the share job
      adds it again: ram:AssociateResourceShare)
"""

import sys

import boto3


def drop_share_principal(profile, share_name, account):
    ram = boto3.Session(profile_name=profile).client("ram")
    shares = [share for share in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
              if share["name"] == share_name and share["status"] == "ACTIVE"]
    if len(shares) != 1:
        raise SystemExit("expected one active share %s, found %d" % (share_name, len(shares)))
    ram.disassociate_resource_share(resourceShareArn=shares[0]["resourceShareArn"], principals=[account])
    print("removed %s from %s" % (account, shares[0]["resourceShareArn"]))


def main(argv):
    commands = {"drop-share-principal": drop_share_principal}
    if not argv or argv[0] not in commands:
        raise SystemExit(__doc__)
    commands[argv[0]](*argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
