// The JavaScript SDK v2's AWS.ChainableTemporaryCredentials, as its documentation shows: one
// credentials object, given to every S3 client (it refreshes itself, 15 s before expiry by
// default, on the call that finds it expiring).
"use strict";
const AWS = require("aws-sdk");
const { settings, run } = require("./run");

const credentials = new AWS.ChainableTemporaryCredentials({
  params: { RoleArn: settings.roleArn, RoleSessionName: settings.sessionName },
  masterCredentials: new AWS.Credentials(settings.baseKeyId, settings.baseSecret),
  stsConfig: { endpoint: settings.stsEndpoint, region: settings.region },
});
// The documented switch, for the comparison's row with it on: refresh this many seconds
// before expiry instead of 15.
if (process.env.PEER_EXPIRY_WINDOW) credentials.expiryWindow = Number(process.env.PEER_EXPIRY_WINDOW);
const clients = Array.from({ length: settings.clients }, () =>
  new AWS.S3({
    credentials,
    endpoint: settings.s3Endpoint,
    region: settings.region,
    s3ForcePathStyle: true,
  }),
);
run(clients.map((s3) => () => s3.listBuckets().promise())).catch((error) => {
  console.error(error);
  process.exit(1);
});
