// The JavaScript SDK v3's fromTemporaryCredentials, as its documentation shows: one provider,
// given to every S3 client (each client memoizes it and refreshes 5 minutes before expiry, on
// the call that finds it expiring).
"use strict";
const { S3Client, ListBucketsCommand } = require("@aws-sdk/client-s3");
const { fromTemporaryCredentials } = require("@aws-sdk/credential-providers");
const { settings, run } = require("./run");

const credentials = fromTemporaryCredentials({
  params: { RoleArn: settings.roleArn, RoleSessionName: settings.sessionName },
  masterCredentials: { accessKeyId: settings.baseKeyId, secretAccessKey: settings.baseSecret },
  clientConfig: { endpoint: settings.stsEndpoint, region: settings.region },
});
const clients = Array.from({ length: settings.clients }, () =>
  new S3Client({
    credentials,
    endpoint: settings.s3Endpoint,
    region: settings.region,
    forcePathStyle: true,
  }),
);
run(clients.map((s3) => () => s3.send(new ListBucketsCommand({})))).catch((error) => {
  console.error(error);
  process.exit(1);
});
