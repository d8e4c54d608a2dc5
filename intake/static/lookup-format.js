/*
 * intake: the status lookup's half of the formats (docs/formats.md, section 8), with no page.
 *
 * Pure functions of their arguments: the lookup id and the reply key derived from a canonical
 * reference code, exactly as refcode.py derives them, and the secretariat's message opened as
 * return_bundle.open_message opens it. lookup.js does the page with these, so that the code
 * never leaves the browser; the Node tests load this file as the page does and hold it to the
 * Python functions byte for byte. No eval, no WebAssembly: this runs in Tor Browser at "Safer".
 *
 * Both derivations are BLAKE2b with a personalisation. The vendored BLAKE2b (blakejs', inside
 * sealedbox.web.js) is not reachable from outside that bundle and takes no personalisation,
 * so this file has its own: RFC 7693, unkeyed, with the parameter block docs/formats.md gives
 * (digest length, fanout 1, depth 1, the personalisation padded with zeros to 16 bytes).
 */
(function (root) {
  "use strict";

  var DIGEST_SIZE = 32;  // refcode.lookup_id and reply_key: digest_size=32
  var PERSON_SIZE = 16;  // hashlib.blake2b.PERSON_SIZE: bytes 48 to 63 of the parameter block
  var LOOKUP_PERSON = "intake.lookup.v1";  // refcode.LOOKUP_PERSON
  var REPLY_PERSON = "intake.reply.v1";  // refcode.REPLY_PERSON
  var CANONICAL = /^[0123456789ABCDEFGHJKMNPQRSTVWXYZ]{20}$/;  // refcode.ALPHABET, refcode.LENGTH
  var MESSAGE_SIZE = 2048;  // return_bundle.MESSAGE_SIZE: a 2-byte length, UTF-8, zeros
  var MAX_MESSAGE = MESSAGE_SIZE - 2;  // return_bundle.MAX_MESSAGE

  var BLOCK = 128;  // BLAKE2b's block, in bytes
  var MAX_DIGEST = 64;  // BLAKE2b's longest digest, in bytes
  var PARAMETERS = 0x01010000;  // the parameter block's first word: fanout 1, depth 1, no key
  var TWO_32 = 0x100000000;

  // RFC 7693, 2.6: the initialisation vector. Each 64-bit word is two 32-bit halves, low first,
  // as everywhere below: word i is at 2i (low) and 2i + 1 (high).
  var IV = [
    0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
    0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19
  ];
  // RFC 7693, 2.7: the message schedule of each round (rounds 10 and 11 repeat 0 and 1).
  var SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0]
  ];
  var ROUNDS = 12;

  /* v[a] += the 64-bit word (high, low), modulo 2^64. The carry is arithmetic, not a branch on
     the values (which come from the reference code). Uint32Array stores each half modulo 2^32. */
  function add(v, a, low, high) {
    var sum = v[2 * a] + low;
    v[2 * a + 1] = v[2 * a + 1] + high + (sum - (sum >>> 0)) / TWO_32;
    v[2 * a] = sum;
  }

  /* v[d] = (v[d] XOR v[a]) rotated right by n bits (n is one of G's constants, never a value). */
  function xorRotate(v, d, a, n) {
    var low = v[2 * d] ^ v[2 * a], high = v[2 * d + 1] ^ v[2 * a + 1], swap;
    if (n >= 32) {
      swap = low;
      low = high;
      high = swap;
      n -= 32;
    }
    if (n > 0) {
      swap = (low >>> n) | (high << (32 - n));
      high = (high >>> n) | (low << (32 - n));
      low = swap;
    }
    v[2 * d] = low;
    v[2 * d + 1] = high;
  }

  /* RFC 7693, 3.1: the mixing function G on words a, b, c, d with message words x and y. */
  function mix(v, m, a, b, c, d, x, y) {
    add(v, a, v[2 * b], v[2 * b + 1]);
    add(v, a, m[2 * x], m[2 * x + 1]);
    xorRotate(v, d, a, 32);
    add(v, c, v[2 * d], v[2 * d + 1]);
    xorRotate(v, b, c, 24);
    add(v, a, v[2 * b], v[2 * b + 1]);
    add(v, a, m[2 * y], m[2 * y + 1]);
    xorRotate(v, d, a, 16);
    add(v, c, v[2 * d], v[2 * d + 1]);
    xorRotate(v, b, c, 63);
  }

  /* RFC 7693, 3.2: the compression function F on one 128-byte block; `counted` is the number of
     input bytes so far, `last` marks the final block. */
  function compress(h, block, counted, last) {
    var v = new Uint32Array(32), m = new Uint32Array(32), i;
    for (i = 0; i < 16; i++) {
      v[i] = h[i];
      v[i + 16] = IV[i];
    }
    v[24] ^= counted;  // word 12: the byte counter; below 2^32 bytes its high half and word 13 are 0
    if (last) {  // word 14, inverted for the final block
      v[28] = ~v[28];
      v[29] = ~v[29];
    }
    for (i = 0; i < 32; i++) {
      m[i] = block[4 * i] | (block[4 * i + 1] << 8) | (block[4 * i + 2] << 16) | (block[4 * i + 3] << 24);
    }
    for (i = 0; i < ROUNDS; i++) {
      var s = SIGMA[i % SIGMA.length];
      mix(v, m, 0, 4, 8, 12, s[0], s[1]);
      mix(v, m, 1, 5, 9, 13, s[2], s[3]);
      mix(v, m, 2, 6, 10, 14, s[4], s[5]);
      mix(v, m, 3, 7, 11, 15, s[6], s[7]);
      mix(v, m, 0, 5, 10, 15, s[8], s[9]);
      mix(v, m, 1, 6, 11, 12, s[10], s[11]);
      mix(v, m, 2, 7, 8, 13, s[12], s[13]);
      mix(v, m, 3, 4, 9, 14, s[14], s[15]);
    }
    for (i = 0; i < 16; i++) h[i] ^= v[i] ^ v[i + 16];
  }

  /* BLAKE2b of `input` (bytes), `size` bytes long, unkeyed, with a personalisation of at most 16
     bytes padded with zeros (Python: hashlib.blake2b(input, digest_size=size, person=person)). */
  function blake2b(input, size, person) {
    if (!(size >= 1 && size <= MAX_DIGEST) || person.length > PERSON_SIZE || input.length >= TWO_32) {
      throw new Error("BLAKE2b takes 1 to 64 bytes of digest, at most 16 of personalisation, under 4 GiB");
    }
    var h = new Uint32Array(IV), padded = new Uint8Array(PERSON_SIZE), i;
    h[0] ^= PARAMETERS ^ size;
    padded.set(person);
    for (i = 0; i < 4; i++) {  // the personalisation is words 6 and 7 of the parameter block
      h[12 + i] ^= padded[4 * i] | (padded[4 * i + 1] << 8) | (padded[4 * i + 2] << 16) | (padded[4 * i + 3] << 24);
    }
    var at = 0;
    for (; input.length - at > BLOCK; at += BLOCK) {  // every block but the last, which is final
      compress(h, input.subarray(at, at + BLOCK), at + BLOCK, false);
    }
    var last = new Uint8Array(BLOCK);  // zero padded; an empty input is one block of zeros
    last.set(input.subarray(at));
    compress(h, last, input.length, true);
    var out = new Uint8Array(size);
    for (i = 0; i < size; i++) out[i] = h[i >> 2] >>> (8 * (i & 3));
    return out;
  }

  function ascii(text) {
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  /* The derivations take the canonical code (20 symbols, no hyphens) and nothing else: any
     other form of it would give another id, and find nothing. */
  function canonical(code) {
    if (typeof code !== "string" || !CANONICAL.test(code)) throw new Error("not a canonical reference code");
    return ascii(code);
  }

  /* refcode.lookup_id: the 32 bytes under which the server files the code's status. */
  function lookupId(code) {
    return blake2b(canonical(code), DIGEST_SIZE, ascii(LOOKUP_PERSON));
  }

  /* refcode.reply_key: the X25519 key pair whose public half the secretariat seals messages to.
     The 32 bytes are the secret key as they are (nacl.box.keyPair.fromSecretKey, as PyNaCl's
     PrivateKey), not hashed again. */
  function replyKeyPair(code) {
    return root.nacl.box.keyPair.fromSecretKey(blake2b(canonical(code), DIGEST_SIZE, ascii(REPLY_PERSON)));
  }

  /* return_bundle.open_message: open a sealed message with the code's key pair; its text, or an
     error (another code's message, a changed one, bad padding or UTF-8). */
  function openMessage(sealed, pair) {
    var padded = null;
    try {
      padded = root.sealedBox.open(sealed, pair.publicKey, pair.secretKey);
    } catch (e) {
      padded = null;  // too short to be a sealed box at all
    }
    if (!padded) throw new Error("message does not open with this code");
    var length = (padded[0] << 8) | padded[1];
    if (padded.length !== MESSAGE_SIZE || length > MAX_MESSAGE) throw new Error("message is malformed");
    for (var i = 2 + length; i < padded.length; i++) {
      if (padded[i] !== 0) throw new Error("message is malformed");
    }
    // Strict UTF-8, as Python decodes it; a leading U+FEFF is part of the message, not a mark.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(padded.subarray(2, 2 + length));
  }

  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  /* base64url without padding (RFC 4648, section 5), as the server writes the sealed message. */
  function fromBase64url(text) {
    var binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  root.intakeLookup = {
    constants: {
      DIGEST_SIZE: DIGEST_SIZE, PERSON_SIZE: PERSON_SIZE, LOOKUP_PERSON: LOOKUP_PERSON,
      REPLY_PERSON: REPLY_PERSON, CANONICAL: CANONICAL.source, MESSAGE_SIZE: MESSAGE_SIZE,
      MAX_MESSAGE: MAX_MESSAGE
    },
    blake2b: blake2b, lookupId: lookupId, replyKeyPair: replyKeyPair, openMessage: openMessage,
    toHex: toHex, fromBase64url: fromBase64url
  };
})(typeof window !== "undefined" ? window : this);
