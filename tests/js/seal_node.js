// Run the browser's format code under Node, as a page loads it (tests/web/test_seal_format.py).
// Reads {publicKey, keyId, payloads, codes, texts, numbers, digits} as JSON on stdin; writes results.
"use strict";
const fs = require("fs");
const { loadPage } = require("./page");

const page = loadPage();
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const bytes = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const hex = (array) => Buffer.from(array).toString("hex");
const api = page.intakeFormat;
const pk = bytes(input.publicKey), kid = bytes(input.keyId);
let badKey = null;
try { api.seal(input.payloads[0], pk, bytes("0000000000000000")); } catch (e) { badKey = e.message; }
process.stdout.write(JSON.stringify({
  envelopes: input.payloads.map((p) => hex(api.seal(p, pk, kid))),
  frames: input.payloads.map((p) => hex(api.buildFrame(p, kid))),
  codes: input.codes.map((c) => api.normaliseCode(c, input.lookalikes)),
  texts: input.texts.map(api.clean),
  numbers: input.numbers.map((n) => api.wholeNumber(n, 1000000, input.digits)),
  badKey,
  streams: (input.streams || []).map((s) => Buffer.concat(api.sealStream(bytes(s.data), bytes(s.key))).toString("hex")),
  padme: (input.lengths || []).map(api.padme),
}));
