/*
 * intake: seal a request in the browser, so the server never sees what was written.
 *
 * The page's half. Reads the answers from the form, checks them with the server's own rules
 * (the form's checks, fetched from where data-checks says) in the page's language, has
 * intakeFormat (seal-format.js, loaded just before) build exactly the Frame the server builds
 * without JavaScript, origin "browser", and seal it to the key embedded in the page, then posts
 * only the envelope and the CSRF token. Everything it needs comes from the form's data
 * attributes, the names of the form's parts too: the server renders them from where it defines
 * them. Any failure sends nothing, says why, and offers to let the server seal instead.
 */
(function (root) {
  "use strict";

  var format = root.intakeFormat;  // missing if seal-format.js did not load: sending then fails

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
      } else if (rule.type === "SelectField" || rule.type === "CountryField") {
        answers[rule.name] = controls.length ? controls[0].value : "";
      } else {
        answers[rule.name] = controls.length ? format.clean(controls[0].value) : "";
      }
    });
    return answers;
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content) node.textContent = content;
    return node;
  }

  var marked = [];  // the questions showErrors marked invalid, to unmark on the next try

  function removeMessages() {
    Array.prototype.forEach.call(document.querySelectorAll(".js-message"), function (node) {
      node.parentNode.removeChild(node);
    });
    marked.forEach(function (mark) {
      controlsOf(mark.anchor).forEach(function (c) { c.setAttribute("aria-invalid", "false"); });
      var kept = describedBy(mark.anchor).filter(function (id) { return id !== mark.id; });
      if (kept.length) mark.anchor.setAttribute("aria-describedby", kept.join(" "));
      else mark.anchor.removeAttribute("aria-describedby");
    });
    marked = [];
  }

  function controlsOf(anchor) {
    return anchor.matches("fieldset") ? Array.prototype.slice.call(anchor.querySelectorAll("input")) : [anchor];
  }

  function describedBy(anchor) {
    return (anchor.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  }

  /* A question's own words, as the server's summary names it: without the note beside it. */
  function questionOf(label, name) {
    if (!label) return name;
    var words = label.cloneNode(true);
    Array.prototype.forEach.call(words.querySelectorAll(".note"), function (note) { note.parentNode.removeChild(note); });
    return words.textContent.trim();
  }

  /* As the server shows errors (macros.html): a summary naming each question, leading to it, and
     saying what to do on a line of its own (no "?:"); beside each question the same words, tied
     to it for screen readers, and the question marked invalid. */
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
      var link = element("a", null, questionOf(label, name));
      link.href = "#" + name;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", null, errors[name]));
      list.appendChild(item);
      var message = element("p", "error js-message", errors[name]);
      message.id = name + "-js-error";
      var after = document.getElementById(name + "-help") || label;
      if (after) after.parentNode.insertBefore(message, after.nextSibling);
      if (anchor && after) {
        controlsOf(anchor).forEach(function (c) { c.setAttribute("aria-invalid", "true"); });
        anchor.setAttribute("aria-describedby", describedBy(anchor).concat(message.id).join(" "));
        marked.push({ anchor: anchor, id: message.id });
      }
    });
    summary.appendChild(list);
    form.parentNode.insertBefore(summary, form);
    summary.focus();
  }

  /* options.fallback false: no button to let the server seal (a follow-up whose code the server
     must never receive), and options.failed says what to do instead. */
  function showFailure(form, text, options) {
    var box = element("div", "summary js-message");
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.appendChild(element("h2", null, text.failedTitle));
    box.appendChild(element("p", null, options.failed || text.failed));
    if (options.fallback !== false) {
      var fallback = element("button", null, text.fallback);
      fallback.type = "button";
      fallback.addEventListener("click", function () {
        form.dataset.sealing = "off";  // the defender chose to let the server seal
        form.submit();
      });
      box.appendChild(fallback);
    }
    form.parentNode.insertBefore(box, form);
    box.focus();
  }

  function checkFiles(files, form, text) {
    var total = Array.prototype.reduce.call(files, function (sum, f) { return sum + f.size; }, 0);
    if (files.length > Number(form.dataset.maxFiles)) return text.tooMany;
    if (total > Number(form.dataset.maxBytes)) return text.tooLarge;
    return null;
  }

  /* Seal every chosen file; resolve to [{entry, chunks}] in the order chosen. */
  function sealFiles(files) {
    return Promise.all(Array.prototype.map.call(files, function (file) {
      return file.arrayBuffer().then(function (buffer) {
        return format.sealAttachment(new Uint8Array(buffer), file.name, file.type);
      });
    }));
  }

  /* The names of the form's parts, as the server rendered them (accepting.part_names). */
  function partNames(form) {
    return { token: form.dataset.tokenField, envelope: form.dataset.envelopeField,
      files: form.dataset.filesField, sealedFiles: form.dataset.sealedFilesField };
  }

  /* Replace what the form would send with the envelope and the sealed streams, and send it. */
  function sendSealed(form, names, envelope, sealed) {
    // Only the token, the envelope and the sealed streams leave the browser.
    Array.prototype.forEach.call(form.elements, function (control) {
      if (control.name && control.name !== names.token) control.disabled = true;
    });
    var hidden = element("input");
    hidden.type = "hidden";
    hidden.name = names.envelope;
    hidden.value = format.base64url(envelope);
    form.appendChild(hidden);
    if (sealed.length) {
      var transfer = new DataTransfer();
      sealed.forEach(function (s) {
        transfer.items.add(new File([new Blob(s.chunks, { type: "application/octet-stream" })], "sealed.bin"));
      });
      var streams = element("input");
      streams.type = "file";
      streams.name = names.sealedFiles;
      streams.multiple = true;
      streams.hidden = true;
      streams.files = transfer.files;
      form.appendChild(streams);
    }
    form.submit();
  }

  /* The form's checks, fetched once the page is there and pinned by their integrity, as the
     scripts are: {rules, lookalikes, digits, countries} (web/checks.py). One that did not come
     is asked for again at the next try; until it comes, sending fails and says so. */
  function checksOf(form) {
    var pending = null;
    return function () {
      if (!pending) {
        pending = fetch(form.dataset.checks, { integrity: form.dataset.checksIntegrity, credentials: "omit" })
          .then(function (response) {
            if (!response.ok) throw new Error("no checks");
            return response.json();
          });
        pending.catch(function () { pending = null; });
      }
      return pending;
    };
  }

  function attach(form, options) {
    options = options || {};
    var text = JSON.parse(form.dataset.messages);
    var checks = checksOf(form);
    Promise.resolve().then(checks).catch(function () {});  // early; a failure is told when sending
    form.addEventListener("submit", function (event) {
      if (form.dataset.sealing === "off") return;
      event.preventDefault();
      removeMessages();
      var busy = null;
      // Every step runs inside the promise, so that any failure (a missing seal-format.js too)
      // ends in the catch below: nothing sent, and the defender told why.
      Promise.resolve().then(checks).then(function (tables) {
        var names = partNames(form);
        var picker = form.querySelector('input[type=file][name="' + names.files + '"]');
        var answers = readAnswers(form, tables.rules);
        var errors = format.check(answers, tables.rules, text, tables);
        var chosen = picker ? picker.files : [];
        var fileProblem = checkFiles(chosen, form, text);
        if (fileProblem) errors[names.files] = fileProblem;
        if (Object.keys(errors).length) {
          showErrors(form, errors, text);
          return null;
        }
        busy = element("p", "notice js-message", text.sealing);
        busy.setAttribute("role", "status");
        form.parentNode.insertBefore(busy, form);
        return sealFiles(chosen).then(function (sealed) {
          var entries = sealed.map(function (s) { return s.entry; });
          var payload = format.bodyPayload(form.dataset.kind, document.documentElement.lang, answers, entries);
          var envelope = format.seal(payload, format.hexBytes(form.dataset.publicKey),
            format.hexBytes(form.dataset.keyId));
          sendSealed(form, names, envelope, sealed);
        });
      }).catch(function () {
        if (busy && busy.parentNode) busy.parentNode.removeChild(busy);
        showFailure(form, text, options);
      });
    });
  }

  // Coming back to the page (the browser's Back button) finds the answers editable again.
  function restore(form) {
    var names = partNames(form);
    Array.prototype.forEach.call(form.elements, function (control) { control.disabled = false; });
    Array.prototype.forEach.call(form.querySelectorAll('input[name="' + names.envelope + '"], input[name="' +
      names.sealedFiles + '"]'), function (node) { node.parentNode.removeChild(node); });
  }

  var forms = document.querySelectorAll("form[data-seal]");
  Array.prototype.forEach.call(forms, function (form) { attach(form); });
  root.intakeSeal = { attach: attach };  // for a form that arrives later (lookup.js's follow-up)
  root.addEventListener("pageshow", function () { Array.prototype.forEach.call(forms, restore); });
})(window);
