// What every JavaScript peer shares: the settings from the environment, and the loop that
// calls each client every PEER_INTERVAL seconds for PEER_DURATION seconds, one JSON line a call.
"use strict";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const settings = {
  roleArn: env("PEER_ROLE_ARN"),
  sessionName: env("PEER_SESSION_NAME"),
  baseKeyId: env("PEER_BASE_ACCESS_KEY_ID"),
  baseSecret: env("PEER_BASE_SECRET_ACCESS_KEY"),
  stsEndpoint: env("PEER_STS_ENDPOINT"),
  s3Endpoint: env("PEER_S3_ENDPOINT"),
  region: env("PEER_REGION"),
  clients: Number(process.env.PEER_CLIENTS || "1"),
  duration: Number(env("PEER_DURATION")),
  interval: Number(process.env.PEER_INTERVAL || "2"),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The run's summary line, the same in every peer: requests, failures, latency (ms).
function summary(took, failures) {
  const sorted = [...took].sort((a, b) => a - b);
  const at = (p) => (sorted.length ? sorted[Math.round((sorted.length - 1) * p)] : 0);
  return {
    summary: {
      requests: took.length,
      failures,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: sorted.length ? sorted[sorted.length - 1] : 0,
      over_1s: took.filter((ms) => ms > 1000).length,
    },
  };
}

// Calls each of `calls` (functions returning a promise) on its own schedule; one JSON line a
// call, and the summary line last.
async function run(calls) {
  const end = Date.now() + settings.duration * 1000;
  const took = [];
  let failures = 0;
  await Promise.all(
    calls.map(async (call, client) => {
      while (Date.now() < end) {
        const started = Date.now();
        let ok = true;
        try {
          await call();
        } catch (error) {
          ok = false;
          process.stderr.write(`client ${client}: ${error.name}: ${error.message}\n`);
        }
        const ms = Date.now() - started;
        took.push(ms);
        if (!ok) failures += 1;
        process.stdout.write(`${JSON.stringify({ client, t: started, ms, ok })}\n`);
        await sleep(Math.max(0, settings.interval * 1000 - ms));
      }
    }),
  );
  process.stdout.write(`${JSON.stringify(summary(took, failures))}\n`);
}

module.exports = { settings, run };
