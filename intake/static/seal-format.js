/*
 * intake: the browser's half of the formats (docs/formats.md), with no page in sight.
 *
 * Pure functions of their arguments: clean answers and check them with the server's rules,
 * normalise reference codes, build and seal the body Frame, pad and seal attachment streams.
 * No document and no DOM: seal.js does the page with these, and the Node tests load this file
 * exactly as the page does and hold it to the Python server's own functions. Every number is a
 * named constant whose comment names the Python constant it mirrors (a test checks they are
 * equal). No eval, no WebAssembly: this runs in Tor Browser at "Safer", where the JIT is off.
 */
(function (root) {
  "use strict";

  /* The Frame and the Envelope (docs/formats.md, sections 3 and 4). */
  var VERSION = 1;  // crypto.VERSION
  var KIND_BODY = 1;  // crypto.KIND_BODY
  var ORIGIN_BROWSER = 2;  // crypto.ORIGIN_BROWSER
  var FRAME_SIZE = 65536;  // crypto.FRAME_SIZES[KIND_BODY]
  var KEY_ID_SIZE = 8;  // crypto.KEY_ID_SIZE
  var HEADER_SIZE = 15;  // crypto.HEADER_SIZE: version, kind, origin, key id, payload length
  var LENGTH_AT = 3 + KEY_ID_SIZE;  // where crypto._HEADER (">BBB8sI") puts the payload length
  var MAX_PAYLOAD = FRAME_SIZE - HEADER_SIZE;  // crypto.MAX_PAYLOAD[KIND_BODY]

  /* Attachment streams (docs/formats.md, "Attachments"). */
  var CHUNK_SIZE = 65536;  // attachments.CHUNK
  var STREAM_KEY_SIZE = 32;  // attachments.KEY_SIZE
  var NONCE_SIZE = 24;  // attachments.nonce: 15 zero bytes, a uint64 counter, the last flag
  var COUNTER_LOW_AT = 19;  // the counter's low 32 bits; its high ones stay zero below 2^32 chunks
  var LAST_FLAG_AT = 23;  // attachments.nonce: 1 for the last chunk, else 0
  var MAX_NAME = 100;  // uploads.MAX_NAME, in code points
  var MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;  // uploads._MEDIA_TYPE
  var UNKNOWN_TYPE = "application/octet-stream";  // what uploads.Part stores for anything else

  /* Reference codes (docs/formats.md, section 8). */
  var ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // refcode.ALPHABET
  var CODE_LENGTH = 20;  // refcode.LENGTH
  var CODE_GROUP = 5;  // refcode.GROUP
  var MAX_TYPED_CODE = 200;  // refcode.normalise refuses longer text before reading it
  var GF32_CARRY = 32;  // refcode._gf32_double: x^5 overflows GF(32)...
  var GF32_REDUCE = 37;  // ...and is reduced by x^5 + x^2 + 1 (0b100101)

  /* Whole numbers (fields.WholeNumber, then Python's int()). */
  var MAX_DIGITS = 4300;  // sys.int_info.default_max_str_digits: int() refuses longer numbers
  var DIGITS_IN_RUN = 10;  // Unicode encodes each script's decimal digits as one run, 0 to 9

  var BINARY_SLICE = 0x8000;  // bytes per String.fromCharCode.apply call, well below engines' limits

  // Python's str.isspace(): what str.strip() trims and what re's \s matches.
  var SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var TRIM = new RegExp("^[" + SPACE + "]+|[" + SPACE + "]+$", "g");
  var CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;  // fields._CONTROL
  // Half an astral character (a UTF-16 surrogate alone): a form post carries U+FFFD instead.
  var LONE_SURROGATE = /\p{Cs}/gu;
  // What fields.WholeNumber drops before int() reads the rest.
  var NUMBER_SEPARATORS = new RegExp("[" + SPACE + ",.'\\u066c\\u00a0\\u202f]", "g");
  // refcode.normalise drops spaces, hyphens of every kind and invisible marks.
  var CODE_IGNORED = /[\p{Zs}\p{Pd}\p{Cf}\p{Cc}]/gu;

  function strip(value) {
    return value.replace(TRIM, "");
  }

  /* What fields.clean does to what the browser would post: NFC, newlines as \n, no control
     characters, trimmed. Lone surrogates first become U+FFFD, as a form post's UTF-8 has them:
     left alone, JSON.stringify would write them as \ud800 escapes, and the offline reader
     refuses a body that holds one (payload.check_payload). */
  function clean(value) {
    value = value.replace(LONE_SURROGATE, "\ufffd");
    value = value.replace(/\r\n/g, "\n").replace(/\r/g, "\n").normalize("NFC");
    return strip(value.replace(CONTROL, ""));
  }

  /* A text's length as Python's len() counts it: code points, not UTF-16 units. */
  function codePointLength(value) {
    return Array.from(value).length;
  }

  /* A decimal digit's value, or -1. digitZeros is the server's table of them (the code point
     of each run's zero), so that the browser reads the digits the server's Python reads, not
     those of its own Unicode version. */
  function digitValue(character, digitZeros) {
    var point = character.codePointAt(0);
    for (var i = 0; i < digitZeros.length; i++) {
      if (point >= digitZeros[i] && point < digitZeros[i] + DIGITS_IN_RUN) return point - digitZeros[i];
    }
    return -1;
  }

  /* WholeNumber: the digits people write, in any script, with any thousands separators. What
     is left after the separators is read as int() reads it: a sign, then digits, with single
     underscores between them, at most MAX_DIGITS. The number in ASCII digits, or null. */
  function wholeNumber(text, high, digitZeros) {
    var chars = Array.from(text.replace(NUMBER_SEPARATORS, ""));
    var negative = chars[0] === "-";
    if (chars[0] === "+" || chars[0] === "-") chars.shift();
    var digits = "", afterDigit = false;
    for (var i = 0; i < chars.length; i++) {
      if (chars[i] === "_" && afterDigit) {
        afterDigit = false;
        continue;
      }
      var value = digitValue(chars[i], digitZeros);
      if (value < 0) return null;
      digits += value;
      afterDigit = true;
    }
    if (!afterDigit || digits.length > MAX_DIGITS) return null;
    var number = parseInt(digits, 10) * (negative ? -1 : 1);  // beyond 2^53 still above any limit
    return number >= 0 && number <= high ? String(number) : null;
  }

  function gf32Double(x) {
    x <<= 1;
    return x & GF32_CARRY ? x ^ GF32_REDUCE : x;
  }

  /* refcode.normalise: look-alikes, separators and invisible marks, then the Damm check. Returns
     {code: the display form (refcode.display), or null; problem: null, or why it is not a code
     (refcode.InvalidCode.reason: "length", "symbols", "check"); count: its symbols once the
     separators are dropped (refcode.InvalidCode.count)}. */
  function examineCode(text, lookalikes) {
    var typed = codePointLength(text);
    if (typed > MAX_TYPED_CODE) return { code: null, problem: "length", count: typed };
    var chars = Array.from(text.normalize("NFKC").toUpperCase());
    var kept = chars.map(function (c) { return lookalikes[c] || c; }).join("").replace(CODE_IGNORED, "");
    var count = codePointLength(kept);
    if (count !== CODE_LENGTH) return { code: null, problem: "length", count: count };
    var values = Array.from(kept).map(function (c) { return ALPHABET.indexOf(c); });
    if (values.indexOf(-1) >= 0) return { code: null, problem: "symbols", count: count };
    var interim = values.reduce(function (sum, value) { return gf32Double(sum) ^ value; }, 0);
    if (interim !== 0) return { code: null, problem: "check", count: count };
    return { code: kept.match(new RegExp(".{" + CODE_GROUP + "}", "g")).join("-"), problem: null, count: count };
  }

  /* refcode.normalise: the display form, or null. */
  function normaliseCode(text, lookalikes) {
    return examineCode(text, lookalikes).code;
  }

  /* The server's validators, in the order the server applies them (fields.field_rule describes
     them); returns name -> message and puts numbers, codes and countries in the form the server
     stores. tables: {lookalikes: refcode.LOOKALIKES, digits: the server's digits, as wholeNumber
     takes, countries: a country's name in the page's language -> its code, as CountryField reads}. */
  function check(answers, rules, text, tables) {
    var errors = {};
    rules.forEach(function (rule) {
      if (rule.country && Object.prototype.hasOwnProperty.call(tables.countries, answers[rule.name])) {
        answers[rule.name] = tables.countries[answers[rule.name]];
      }
      var value = answers[rule.name];
      var empty = Array.isArray(value) ? value.length === 0 : value === "";
      var other = rule.requiredIf && [].concat(answers[rule.requiredIf[0]]);
      var triggered = other && other.some(function (v) { return rule.requiredIf[1].indexOf(v) >= 0; });
      if (empty && rule.required) {
        errors[rule.name] = Array.isArray(value) ? text.choose : text.required;
      } else if (empty && triggered) {
        errors[rule.name] = text.required;
      } else if (!empty && rule.choices && [].concat(value).some(function (v) { return rule.choices.indexOf(v) < 0; })) {
        errors[rule.name] = text.choice;
      } else if (!empty && rule.max && codePointLength(value) > rule.max) {
        errors[rule.name] = text.tooLong.replace("%(max)d", String(rule.max));
      } else if (!empty && rule.number !== undefined) {
        var number = wholeNumber(value, rule.number, tables.digits);
        if (number === null) errors[rule.name] = text.number; else answers[rule.name] = number;
      } else if (!empty && rule.refcode) {
        var examined = examineCode(value, tables.lookalikes);  // why it cannot be one, if it cannot
        if (examined.code === null) {
          errors[rule.name] = text[examined.problem].replace("%(count)d", String(examined.count));
        } else {
          answers[rule.name] = examined.code;
        }
      }
    });
    return errors;
  }

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function base64url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += BINARY_SLICE) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + BINARY_SLICE));
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /* The body payload (docs/formats.md, section 5): keys in the order the server writes them. */
  function bodyPayload(kind, lang, fields, attachments) {
    var payload = { form: kind, lang: lang, fields: fields };
    if (attachments.length) payload.attachments = attachments;
    return payload;
  }

  /* The body Frame: header, compact UTF-8 JSON (as Python's json.dumps with
     ensure_ascii=False and separators (",", ":")), zero padding to 64 KiB. */
  function buildFrame(payload, keyId) {
    var json = new TextEncoder().encode(JSON.stringify(payload));
    if (json.length > MAX_PAYLOAD) throw new Error("payload too large");
    var frame = new Uint8Array(FRAME_SIZE);
    frame[0] = VERSION;
    frame[1] = KIND_BODY;
    frame[2] = ORIGIN_BROWSER;
    frame.set(keyId, 3);
    new DataView(frame.buffer).setUint32(LENGTH_AT, json.length, false);
    frame.set(json, HEADER_SIZE);
    return frame;
  }

  /* The Envelope: version, key id, sealed box of the Frame. */
  function seal(payload, publicKey, keyId) {
    var expected = root.nacl.hash(publicKey).subarray(0, KEY_ID_SIZE);
    if (root.nacl.verify(expected, keyId) !== true) throw new Error("key id does not match the key");
    var sealed = root.sealedBox.seal(buildFrame(payload, keyId), publicKey);
    var envelope = new Uint8Array(1 + KEY_ID_SIZE + sealed.length);
    envelope[0] = VERSION;
    envelope.set(keyId, 1);
    envelope.set(sealed, 1 + KEY_ID_SIZE);
    return envelope;
  }

  /* Padmé (attachments.padme): at most about 12% added, the size leaks O(log log) bits. */
  function padme(length) {
    if (length < 2) return length;
    var exponent = 31 - Math.clz32(length);
    var sizeBits = 32 - Math.clz32(exponent);
    var mask = (1 << (exponent - sizeBits)) - 1;
    return (length + mask) & ~mask;
  }

  function streamNonce(counter, last) {
    var nonce = new Uint8Array(NONCE_SIZE);
    new DataView(nonce.buffer).setUint32(COUNTER_LOW_AT, counter, false);
    nonce[LAST_FLAG_AT] = last ? 1 : 0;
    return nonce;
  }

  /* The sealed chunks of one file, in order: exactly what attachments.Sealer writes (Padmé
     padding, then 64 KiB chunks each sealed with secretbox under the STREAM nonce). */
  function sealStream(bytes, key) {
    var padded = padme(bytes.length);
    var count = Math.max(1, Math.ceil(padded / CHUNK_SIZE));
    var chunks = [];
    for (var i = 0; i < count; i++) {
      var start = i * CHUNK_SIZE;
      var chunk = new Uint8Array(Math.min(padded, start + CHUNK_SIZE) - start);
      if (start < bytes.length) chunk.set(bytes.subarray(start, Math.min(bytes.length, start + CHUNK_SIZE)));
      chunks.push(root.nacl.secretbox(chunk, streamNonce(i, i === count - 1), key));
    }
    return chunks;
  }

  /* uploads.Part: a declared type is kept only when it looks like one. */
  function mediaType(declared) {
    var type = strip((declared || "").split(";")[0]).toLowerCase();
    return MEDIA_TYPE.test(type) ? type : UNKNOWN_TYPE;
  }

  /* uploads.Part: a file's name cleaned as a typed answer, at most MAX_NAME code points. */
  function fileName(name) {
    return Array.from(clean(name)).slice(0, MAX_NAME).join("");
  }

  /* One file sealed under a fresh key: its stream's chunks, and its entry in the payload's
     "attachments" (as uploads.Staged.metadata). */
  function sealAttachment(bytes, name, declaredType) {
    var key = root.nacl.randomBytes(STREAM_KEY_SIZE);
    return {
      chunks: sealStream(bytes, key),
      entry: { name: fileName(name), type: mediaType(declaredType), size: bytes.length, key: toHex(key) }
    };
  }

  root.intakeFormat = {
    constants: {
      VERSION: VERSION, KIND_BODY: KIND_BODY, ORIGIN_BROWSER: ORIGIN_BROWSER, FRAME_SIZE: FRAME_SIZE,
      KEY_ID_SIZE: KEY_ID_SIZE, HEADER_SIZE: HEADER_SIZE, LENGTH_AT: LENGTH_AT, MAX_PAYLOAD: MAX_PAYLOAD,
      CHUNK_SIZE: CHUNK_SIZE, STREAM_KEY_SIZE: STREAM_KEY_SIZE, NONCE_SIZE: NONCE_SIZE,
      COUNTER_LOW_AT: COUNTER_LOW_AT, LAST_FLAG_AT: LAST_FLAG_AT, MAX_NAME: MAX_NAME,
      MEDIA_TYPE: MEDIA_TYPE.source, UNKNOWN_TYPE: UNKNOWN_TYPE, ALPHABET: ALPHABET,
      CODE_LENGTH: CODE_LENGTH, CODE_GROUP: CODE_GROUP, MAX_TYPED_CODE: MAX_TYPED_CODE,
      GF32_CARRY: GF32_CARRY, GF32_REDUCE: GF32_REDUCE, MAX_DIGITS: MAX_DIGITS, DIGITS_IN_RUN: DIGITS_IN_RUN
    },
    clean: clean, codePointLength: codePointLength, wholeNumber: wholeNumber, examineCode: examineCode,
    normaliseCode: normaliseCode,
    check: check, hexBytes: hexBytes, toHex: toHex, base64url: base64url, bodyPayload: bodyPayload,
    buildFrame: buildFrame, seal: seal, padme: padme, sealStream: sealStream, mediaType: mediaType,
    fileName: fileName, sealAttachment: sealAttachment
  };
})(typeof window !== "undefined" ? window : this);
