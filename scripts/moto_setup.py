"""Creates the IAM users, roles and S3 bucket the demo and the tests use, then (with
--enforce) switches moto to enforcing signatures and IAM policies.

Prints `export NAME=value` lines for a shell to eval. Everything here is made-up test data on a
local server; the keys it prints are keys moto issued.

Fixtures (account 123456789012):
  admin          user, may do anything: for tests that create more IAM objects under enforcement
  base-user      user, may only call sts:AssumeRole (and sts:GetCallerIdentity): S3 denies it
  other-user     a second user like base-user (a second source principal for the same role)
  s3-reader      role trusting base-user and other-user, may use S3
  chain-hop-1/2/3 roles for role chaining: hop 1 trusts base-user, hop N+1 trusts the exact
                 session ARN of hop N's session named `hop-N` (moto matches principals literally)
  bucket         chainable-demo, with one object demo/hello.txt
"""

import argparse
import json
import sys
import urllib.request

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "chainable-demo"


def compact(doc):
    # moto re-encodes form bodies with '+' for spaces; keep policies free of spaces.
    return json.dumps(doc, separators=(",", ":"))


def allow(actions, resource="*"):
    return compact({"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})


def trust(principal):
    return compact({"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal},
                                   "Action": ["sts:AssumeRole", "sts:TagSession",
                                              "sts:SetSourceIdentity"]}]})


def setup(endpoint, enforce):
    """Creates the fixtures on the server at `endpoint` (then, if `enforce`, turns enforcement
    on) and returns their names and keys."""
    session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup",
                                    region_name=REGION)
    cfg = Config(retries={"max_attempts": 2})
    iam = session.client("iam", endpoint_url=endpoint, config=cfg)
    s3 = session.client("s3", endpoint_url=endpoint, config=cfg)

    out = {}

    def user(name, policy):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"], f"arn:aws:iam::{ACCOUNT}:user/{name}"

    def role(name, trusted, policy):
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(trusted),
                              MaxSessionDuration=43200)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
        return arn

    admin = user("admin", allow("*"))
    sts_only = allow(["sts:AssumeRole", "sts:GetCallerIdentity", "sts:GetSessionToken",
                      "sts:TagSession", "sts:SetSourceIdentity"])
    base = user("base-user", sts_only)
    other = user("other-user", sts_only)
    out.update(ADMIN_ACCESS_KEY_ID=admin[0], ADMIN_SECRET_ACCESS_KEY=admin[1],
               BASE_ACCESS_KEY_ID=base[0], BASE_SECRET_ACCESS_KEY=base[1], BASE_USER_ARN=base[2],
               OTHER_ACCESS_KEY_ID=other[0], OTHER_SECRET_ACCESS_KEY=other[1])

    s3_policy = allow(["s3:*", "sts:GetCallerIdentity", "sts:AssumeRole", "sts:TagSession",
                       "sts:SetSourceIdentity"])
    out["ROLE_ARN"] = role("s3-reader", [base[2], other[2]], s3_policy)
    previous = base[2]
    for hop in (1, 2, 3):
        arn = role(f"chain-hop-{hop}", previous, s3_policy)
        out[f"CHAIN_HOP{hop}_ARN"] = arn
        previous = f"arn:aws:sts::{ACCOUNT}:assumed-role/chain-hop-{hop}/hop-{hop}"

    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="demo/hello.txt", Body=b"hello from the local S3\n")
    out.update(BUCKET=BUCKET, REGION=REGION, ACCOUNT=ACCOUNT, ENDPOINT=endpoint)

    if enforce:
        req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0",
                                     headers={"Content-Type": "text/plain"}, method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        # Prove enforcement is on: the base user may not list buckets.
        denied = boto3.session.Session(aws_access_key_id=base[0], aws_secret_access_key=base[1],
                                       region_name=REGION).client("s3", endpoint_url=endpoint,
                                                                  config=cfg)
        try:
            denied.list_buckets()
        except Exception as e:  # noqa: BLE001 - any refusal proves it
            if "AccessDenied" not in str(e):
                raise
        else:
            sys.exit("moto_setup: enforcement is not on: the base user could list buckets")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--enforce", action="store_true")
    parser.add_argument("--prefix", default="CC_")
    args = parser.parse_args()
    for k, v in setup(args.endpoint, args.enforce).items():
        print(f"export {args.prefix}{k}='{v}'")


if __name__ == "__main__":
    main()
