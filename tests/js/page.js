// The scripts a sealed form's page loads before its own (templates/macros.html), and the status
// page's format module after them (templates/status.html), in the pages' order, run in a fresh
// context that has no document: what the format modules find in a browser.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const statics = path.join(__dirname, "..", "..", "intake", "static");
const SCRIPTS = ["vendor/tweetnacl-1.0.3/nacl-fast.min.js",
                 "vendor/tweetnacl-sealedbox-js-1.2.0/sealedbox.web.js", "seal-format.js",
                 "lookup-format.js"];

function loadPage() {
  const page = { crypto: require("crypto").webcrypto, TextEncoder, TextDecoder, atob, btoa, Uint8Array, DataView };
  page.self = page;
  page.window = page;
  vm.createContext(page);
  for (const file of SCRIPTS) {
    vm.runInContext(fs.readFileSync(path.join(statics, file), "utf8"), page, { filename: file });
  }
  return page;
}

module.exports = { loadPage };
