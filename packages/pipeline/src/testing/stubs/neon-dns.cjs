/**
 * Test-only name resolution for the Neon stub: the compute hosts its connection URIs name
 * (`ep-….us-east-2.aws.neon.tech`, `ep-…-pooler.us-east-2.aws.neon.tech`) resolve to 127.0.0.1,
 * where the stub's Postgres listens, so the pipeline's own code connects with the URIs exactly
 * as Neon hands them out. Nothing outside the tests loads it: a test requires it in its own
 * process, and puts it in NODE_OPTIONS (`--require`) for the CLI it starts. Every other name
 * goes to the real resolver.
 */
"use strict";
// A file for `node --require`, so CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dns = require("node:dns");

const NEON_COMPUTE = /^ep-[a-z0-9-]+\.[a-z0-9-]+\.aws\.neon\.tech$/i;

if (!dns.lookup.codexNeonStub) {
  const original = dns.lookup;
  const lookup = function lookup(hostname, options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    if (typeof hostname !== "string" || !NEON_COMPUTE.test(hostname)) {
      return original.call(this, hostname, options, callback);
    }
    const all = typeof options === "object" && options !== null && options.all;
    process.nextTick(() =>
      all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4),
    );
    return {};
  };
  lookup.codexNeonStub = true;
  dns.lookup = lookup;
}
