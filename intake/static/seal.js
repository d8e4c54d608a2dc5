/*
 * intake: seal a request in the browser, so the server never sees what was written.
 *
 * Builds exactly the Frame the server builds without JavaScript (docs/formats.md, sections
 * 3 to 5), origin "browser", seals it with tweetnacl's sealed box to the key embedded in the
 * page, and posts only the envelope and the CSRF token. Checks the answers first with the
 * server's own rules (the form's data-rules), in the page's language. Any failure sends
 * nothing, says why, and offers to let the server seal instead. No eval, no WebAssembly:
 * this runs in Tor Browser at "Safer", where the JIT is off.
 */
(function (root) {
  "use strict";

  var VERSION = 1, KIND_BODY = 1, ORIGIN_BROWSER = 2;
  var FRAME_SIZE = 65536, HEADER_SIZE = 15, KEY_ID_SIZE = 8;
  var ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  // Python's str.strip() whitespace, so both paths trim the same characters.
  var SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  var TRIM = new RegExp("^" + SPACE + "+|" + SPACE + "+$", "g");

  /* What fields.clean does: NFC, newlines as \n, no control characters, trimmed. */
  function clean(value) {
    value = value.replace(/\r\n/g, "\n").replace(/\r/g, "\n").normalize("NFC");
    return value.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "").replace(TRIM, "");
  }

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function base64url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /* The body Frame: header, compact UTF-8 JSON (as Python's json.dumps with
     ensure_ascii=False and separators (",", ":")), zero padding to 64 KiB. */
  function buildFrame(payload, keyId) {
    var json = new TextEncoder().encode(JSON.stringify(payload));
    if (json.length > FRAME_SIZE - HEADER_SIZE) throw new Error("payload too large");
    var frame = new Uint8Array(FRAME_SIZE);
    frame[0] = VERSION;
    frame[1] = KIND_BODY;
    frame[2] = ORIGIN_BROWSER;
    frame.set(keyId, 3);
    new DataView(frame.buffer).setUint32(3 + KEY_ID_SIZE, json.length, false);
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

  /* Attachments (docs/formats.md, "Attachment stream"): Padmé padding, then 64 KiB chunks each
     sealed with secretbox under a nonce of 15 zero bytes, an 8-byte counter and a last flag. */
  var CHUNK = 65536;

  function padme(length) {
    if (length < 2) return length;
    var exponent = 31 - Math.clz32(length);
    var sizeBits = 32 - Math.clz32(exponent);
    var mask = (1 << (exponent - sizeBits)) - 1;
    return (length + mask) & ~mask;
  }

  function streamNonce(counter, last) {
    var nonce = new Uint8Array(24);
    new DataView(nonce.buffer).setUint32(19, counter, false);
    nonce[23] = last ? 1 : 0;
    return nonce;
  }

  /* The sealed chunks of one file, in order: exactly what attachments.Sealer writes. */
  function sealStream(bytes, key) {
    var padded = padme(bytes.length);
    var count = Math.max(1, Math.ceil(padded / CHUNK));
    var chunks = [];
    for (var i = 0; i < count; i++) {
      var start = i * CHUNK;
      var chunk = new Uint8Array(Math.min(padded, start + CHUNK) - start);
      if (start < bytes.length) chunk.set(bytes.subarray(start, Math.min(bytes.length, start + CHUNK)));
      chunks.push(root.nacl.secretbox(chunk, streamNonce(i, i === count - 1), key));
    }
    return chunks;
  }

  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  /* uploads.Part: a declared type is kept only when it looks like one. */
  var MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;
  function mediaType(declared) {
    var type = (declared || "").split(";")[0].trim().toLowerCase();
    return MEDIA_TYPE.test(type) ? type : "application/octet-stream";
  }

  /* Seal every chosen file; resolve to [{meta, blob}] (meta as uploads.Staged.metadata). */
  function sealFiles(files) {
    return Promise.all(Array.prototype.map.call(files, function (file) {
      return file.arrayBuffer().then(function (buffer) {
        var key = root.nacl.randomBytes(32);
        var blob = new Blob(sealStream(new Uint8Array(buffer), key), { type: "application/octet-stream" });
        var meta = { name: Array.from(clean(file.name)).slice(0, 100).join(""), type: mediaType(file.type),
          size: file.size, key: toHex(key) };
        return { meta: meta, blob: blob };
      });
    }));
  }

  /* refcode.normalise: look-alikes, separators and invisible marks, then the Damm check. */
  function normaliseCode(text, lookalikes) {
    var chars = Array.from(text.normalize("NFKC").toUpperCase());
    var kept = chars.map(function (c) { return lookalikes[c] || c; }).join("")
      .replace(/[\p{Zs}\p{Pd}\p{Cf}\p{Cc}]/gu, "");
    if (kept.length !== 20) return null;
    var interim = 0;
    for (var i = 0; i < kept.length; i++) {
      var value = ALPHABET.indexOf(kept[i]);
      if (value < 0) return null;
      interim = ((interim << 1) ^ (interim & 16 ? 37 : 0) ^ value) & 31;
    }
    return interim === 0 ? kept.match(/.{5}/g).join("-") : null;
  }

  /* WholeNumber: the digits people write, with any thousands separators. */
  function wholeNumber(text, high) {
    var digits = text.replace(/[\s,.'\u066c\u00a0\u202f]/g, "")
      .replace(/[\u0660-\u0669]/g, function (d) { return String(d.charCodeAt(0) - 0x660); })
      .replace(/[\u06f0-\u06f9]/g, function (d) { return String(d.charCodeAt(0) - 0x6f0); });
    if (!/^[+-]?[0-9]+$/.test(digits)) return null;
    var value = parseInt(digits, 10);
    return value >= 0 && value <= high ? String(value) : null;
  }

  /* The answers as the server's form would read them, in the same order. */
  function readAnswers(form, rules) {
    var answers = {};
    rules.forEach(function (rule) {
      var controls = form.querySelectorAll('[name="' + rule.name + '"]');
      if (rule.type === "MultiCheckboxField") {
        answers[rule.name] = Array.prototype.filter.call(controls, function (c) { return c.checked; })
          .map(function (c) { return c.value; });
      } else if (rule.type === "RadioField") {
        var checked = Array.prototype.filter.call(controls, function (c) { return c.checked; });
        answers[rule.name] = checked.length ? checked[0].value : "";
      } else if (rule.type === "SelectField") {
        answers[rule.name] = controls.length ? controls[0].value : "";
      } else {
        answers[rule.name] = controls.length ? clean(controls[0].value) : "";
      }
    });
    return answers;
  }

  /* The server's validators, in the order the server applies them; returns name -> message. */
  function check(answers, rules, text, lookalikes) {
    var errors = {};
    rules.forEach(function (rule) {
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
      } else if (!empty && rule.max && Array.from(value).length > rule.max) {
        errors[rule.name] = text.tooLong.replace("%(max)d", String(rule.max));
      } else if (!empty && rule.number !== undefined) {
        var number = wholeNumber(value, rule.number);
        if (number === null) errors[rule.name] = text.number; else answers[rule.name] = number;
      } else if (!empty && rule.refcode) {
        var code = normaliseCode(value, lookalikes);
        if (code === null) errors[rule.name] = text.refcode; else answers[rule.name] = code;
      }
    });
    return errors;
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content) node.textContent = content;
    return node;
  }

  function showErrors(form, errors, text) {
    var summary = element("div", "summary js-message");
    summary.setAttribute("role", "alert");
    summary.tabIndex = -1;
    summary.appendChild(element("h2", null, text.summary));
    var list = element("ul");
    Object.keys(errors).forEach(function (name) {
      var anchor = document.getElementById(name) ||
        form.querySelector('[name="' + name + '"]');
      var label = document.querySelector('label[for="' + name + '"]') ||
        (anchor && anchor.querySelector && anchor.querySelector("legend"));
      var item = element("li");
      var link = element("a", null, label ? label.textContent : name);
      link.href = "#" + name;
      item.appendChild(link);
      item.appendChild(document.createTextNode(": " + errors[name]));
      list.appendChild(item);
      var message = element("p", "error js-message", errors[name]);
      message.id = name + "-js-error";
      var help = document.getElementById(name + "-help");
      if (help) help.parentNode.insertBefore(message, help.nextSibling);
    });
    summary.appendChild(list);
    form.parentNode.insertBefore(summary, form);
    summary.focus();
  }

  function showFailure(form, text) {
    var box = element("div", "summary js-message");
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.appendChild(element("h2", null, text.failedTitle));
    box.appendChild(element("p", null, text.failed));
    var fallback = element("button", null, text.fallback);
    fallback.type = "button";
    fallback.addEventListener("click", function () {
      form.dataset.sealing = "off";  // the defender chose to let the server seal
      form.submit();
    });
    box.appendChild(fallback);
    form.parentNode.insertBefore(box, form);
    box.focus();
  }

  function checkFiles(files, form, text) {
    var total = Array.prototype.reduce.call(files, function (sum, f) { return sum + f.size; }, 0);
    if (files.length > Number(form.dataset.maxFiles)) return text.tooMany;
    if (total > Number(form.dataset.maxBytes)) return text.tooLarge;
    return null;
  }

  function attach(form) {
    var text = JSON.parse(form.dataset.messages);
    var rules = JSON.parse(form.dataset.rules);
    var lookalikes = JSON.parse(form.dataset.lookalikes);
    var picker = form.querySelector('input[type=file][name="attachments"]');
    form.addEventListener("submit", function (event) {
      if (form.dataset.sealing === "off") return;
      event.preventDefault();
      Array.prototype.forEach.call(document.querySelectorAll(".js-message"), function (node) {
        node.parentNode.removeChild(node);
      });
      var answers = readAnswers(form, rules);
      var errors = check(answers, rules, text, lookalikes);
      var chosen = picker ? picker.files : [];
      var fileProblem = checkFiles(chosen, form, text);
      if (fileProblem) errors.attachments = fileProblem;
      if (Object.keys(errors).length) {
        showErrors(form, errors, text);
        return;
      }
      var busy = element("p", "notice js-message", text.sealing);
      busy.setAttribute("role", "status");
      form.parentNode.insertBefore(busy, form);
      sealFiles(chosen).then(function (sealed) {
        var payload = { form: form.dataset.kind, lang: document.documentElement.lang, fields: answers };
        if (sealed.length) payload.attachments = sealed.map(function (s) { return s.meta; });
        var envelope = seal(payload, hexBytes(form.dataset.publicKey), hexBytes(form.dataset.keyId));
        // Only the token, the envelope and the sealed streams leave the browser.
        Array.prototype.forEach.call(form.elements, function (control) {
          if (control.name && control.name !== "csrf_token") control.disabled = true;
        });
        var hidden = element("input");
        hidden.type = "hidden";
        hidden.name = "envelope";
        hidden.value = base64url(envelope);
        form.appendChild(hidden);
        if (sealed.length) {
          var transfer = new DataTransfer();
          sealed.forEach(function (s) { transfer.items.add(new File([s.blob], "sealed.bin")); });
          var streams = element("input");
          streams.type = "file";
          streams.name = "sealed_attachment";
          streams.multiple = true;
          streams.hidden = true;
          streams.files = transfer.files;
          form.appendChild(streams);
        }
        form.submit();
      }).catch(function () {
        busy.parentNode.removeChild(busy);
        showFailure(form, text);
      });
    });
  }

  // Coming back to the page (the browser's Back button) finds the answers editable again.
  function restore(form) {
    Array.prototype.forEach.call(form.elements, function (control) { control.disabled = false; });
    Array.prototype.forEach.call(form.querySelectorAll('input[name="envelope"], input[name="sealed_attachment"]'),
      function (node) { node.parentNode.removeChild(node); });
  }

  root.intakeSeal = { buildFrame: buildFrame, seal: seal, clean: clean, normaliseCode: normaliseCode,
    wholeNumber: wholeNumber, padme: padme, sealStream: sealStream };

  if (root.document) {
    var forms = root.document.querySelectorAll("form[data-seal]");
    Array.prototype.forEach.call(forms, attach);
    root.addEventListener("pageshow", function () { Array.prototype.forEach.call(forms, restore); });
  }
})(typeof window !== "undefined" ? window : this);
