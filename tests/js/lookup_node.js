// The status page's format code under Node, loaded as the page loads it, for
// tests/web/test_lookup_format.py. One process answers many questions: each line on stdin is
// {"op": ..., ...} as JSON, each answer one line of JSON on stdout.
"use strict";
const readline = require("readline");
const { loadPage } = require("./page");

const page = loadPage();
const format = page.intakeFormat, lookup = page.intakeLookup;
const bytes = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const hex = (array) => Buffer.from(array).toString("hex");

const ops = {
  constants: () => lookup.constants,
  blake2b: (request) => request.cases.map((c) => hex(lookup.blake2b(bytes(c.input), c.size, bytes(c.person)))),
  // What the page does with a typed code: examine it, then derive from the canonical form (the
  // reply key too when asked: an X25519 multiplication takes milliseconds under Node).
  derive: (request) => request.codes.map((typed) => {
    const examined = format.examineCode(typed, request.lookalikes);
    if (examined.code === null) return { problem: examined.problem, count: examined.count };
    const canonical = examined.code.replace(/-/g, "");
    const derived = { display: examined.code, lookupId: hex(lookup.lookupId(canonical)) };
    if (!request.keys) return derived;
    const pair = lookup.replyKeyPair(canonical);
    return { ...derived, replySecret: hex(pair.secretKey), replyPublic: hex(pair.publicKey) };
  }),
  // The derivations given a text as it is, not examined first.
  raw: (request) => request.codes.map((code) => {
    const refused = [];
    for (const derive of [lookup.lookupId, lookup.replyKeyPair]) {
      try { derive(code); } catch (e) { refused.push(e.message); }
    }
    return refused;
  }),
  open: (request) => request.cases.map((c) => {
    try {
      return { message: lookup.openMessage(lookup.fromBase64url(c.sealed), lookup.replyKeyPair(c.code)) };
    } catch (e) {
      return { refused: e.message };
    }
  }),
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const request = JSON.parse(line);
  process.stdout.write(JSON.stringify(ops[request.op](request)) + "\n");
});
