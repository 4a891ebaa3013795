// The JavaScript SDK v3 as an application uses it, run under `chainable-credentials exec`:
// an STS client on the default credentials chain (which reads
// AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE), then
// on `fromHttp` and on `fromContainerMetadata` named explicitly (the latter reads no token
// file: it is skipped when only a file is given). Prints "PROVIDER ARN" lines.
//
//   NODE_PATH=.node/node_modules node tests/clients/caller_identity.cjs
"use strict";
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
const { fromContainerMetadata, fromHttp } = require("@aws-sdk/credential-providers");

async function arn(credentials) {
  const sts = new STSClient({ region: process.env.AWS_REGION || "us-east-1", credentials });
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  return identity.Arn;
}

(async () => {
  console.log(`default-chain ${await arn(undefined)}`);
  console.log(`fromHttp ${await arn(fromHttp())}`);
  if (process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN) {
    console.log(`fromContainerMetadata ${await arn(fromContainerMetadata())}`);
  }
})().catch((error) => {
  console.error(`caller_identity.cjs: ${error.name}: ${error.message}`);
  process.exit(1);
});
