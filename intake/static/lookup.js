/*
 * intake: check a reference code without sending it.
 *
 * The status page's half. Reads the code from the lookup form, says why when it cannot be a code
 * (in the page's language, nothing sent: a code with one typo is nearly the code), derives its
 * lookup id with intakeLookup (lookup-format.js) and posts only that and the CSRF token. The
 * server answers with the status page as it would render it, the secretariat's message still
 * sealed; this puts the page's main content in place, opens the message with the reply key
 * derived here, and gives a follow-up form its code, to be sealed inside the request by seal.js,
 * never sent beside it. Everything it needs comes from the form's data attributes. Any failure
 * sends nothing more, says why, and offers to let the server check the code instead.
 */
(function (root) {
  "use strict";

  var format = root.intakeFormat, lookup = root.intakeLookup;  // missing if they did not load

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content) node.textContent = content;
    return node;
  }

  function settings(form) {
    return {
      text: JSON.parse(form.dataset.messages),
      lookalikes: JSON.parse(form.dataset.lookalikes),
      field: form.querySelector('[name="' + form.dataset.codeField + '"]'),
      token: form.querySelector('[name="' + form.dataset.tokenField + '"]')
    };
  }

  /* The page's title ("Page | Site") without what an error adds around the page's own (base.html:
     one sentence per language, "%(page)s" where the page's title goes). */
  function plainTitle(text) {
    var around = text.titled.split("%(page)s"), title = document.title, cut = title.lastIndexOf(" | ");
    var page = title.slice(0, cut);
    if (page.indexOf(around[0]) === 0 && page.slice(page.length - around[1].length) === around[1]) {
      page = page.slice(around[0].length, page.length - around[1].length);
    }
    return page + title.slice(cut);
  }

  /* The title after an error: the page's own inside the language's sentence. */
  function errorTitle(text) {
    var plain = plainTitle(text), cut = plain.lastIndexOf(" | ");
    return text.titled.split("%(page)s").join(plain.slice(0, cut)) + plain.slice(cut);  // no "$" patterns
  }

  /* What an earlier answer or check left in the page: a result, a summary, the field's error. */
  function clear(form, page) {
    var main = document.getElementById("main");
    Array.prototype.forEach.call(main.querySelectorAll(".result, .summary, .error"), function (node) {
      node.parentNode.removeChild(node);
    });
    page.field.removeAttribute("aria-invalid");
    page.field.setAttribute("aria-describedby", page.field.id + "-help");
    page.field.parentNode.classList.remove("invalid");
    document.title = plainTitle(page.text);
  }

  /* Why the text cannot be a code, as the server's page would say it: in a summary that links to
     the field, beside the field, and in the page's title. */
  function showProblem(form, page, problem, count) {
    var message = page.text[problem].replace("%(count)d", String(count));
    var field = page.field;
    var summary = element("div", "summary");
    summary.setAttribute("role", "alert");
    summary.tabIndex = -1;
    summary.id = "errors";
    summary.appendChild(element("h2", null, page.text.summary));
    var item = element("li");
    var link = element("a", null, document.querySelector('label[for="' + field.id + '"]').textContent);
    link.href = "#" + field.id;
    item.appendChild(link);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(element("span", null, message));  // on a line of its own, as the server's
    summary.appendChild(element("ul")).appendChild(item);
    form.parentNode.insertBefore(summary, form);
    var error = element("p", "error", message);
    error.id = field.id + "-error";
    var help = document.getElementById(field.id + "-help");
    help.parentNode.insertBefore(error, help.nextSibling);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", help.id + " " + error.id);
    field.parentNode.classList.add("invalid");
    document.title = errorTitle(page.text);
    summary.focus();
  }

  function showFailure(form, text) {
    var box = element("div", "summary");
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.appendChild(element("h2", null, text.failedTitle));
    box.appendChild(element("p", null, text.failed));
    var fallback = element("button", null, text.fallback);
    fallback.type = "button";
    fallback.addEventListener("click", function () {
      form.submit();  // the defender chose to send the code itself, as without JavaScript
    });
    box.appendChild(fallback);
    form.parentNode.insertBefore(box, form);
    box.focus();
  }

  /* The secretariat's message, opened here with the code's reply key (only the code opens it). */
  function openMessage(holder, canonical, text) {
    var paragraph = holder.querySelector(".message");
    try {
      var message = lookup.openMessage(lookup.fromBase64url(holder.dataset.sealed), lookup.replyKeyPair(canonical));
      if (message === "") {
        holder.parentNode.removeChild(holder);  // as the server shows an empty message: not at all
        return;
      }
      paragraph.textContent = message;
    } catch (e) {
      paragraph.textContent = text.unopened;
    }
    holder.removeAttribute("data-sealed");
  }

  /* The server's answer in place of the page's main content, completed with what only the
     browser has: the message opened, the code in a follow-up form, what was typed in the field. */
  function show(html, page, typed, display, canonical) {
    var answer = new DOMParser().parseFromString(html, "text/html");
    var arrived = answer.getElementById("main");
    var followup = arrived && arrived.querySelector("form[data-seal]");
    // Without seal.js, a follow-up form would send its code in clear: better not show it at all.
    if (!arrived || (followup && !root.intakeSeal)) throw new Error("the answer cannot be shown");
    var main = document.getElementById("main");
    main.replaceChildren.apply(main, Array.prototype.slice.call(arrived.childNodes));
    document.title = answer.title;
    Array.prototype.forEach.call(main.querySelectorAll("[data-sealed]"), function (holder) {
      openMessage(holder, canonical, page.text);
    });
    if (followup) {  // sealed with its code inside; never sent to the server to seal
      var holder = followup.closest("[data-code-field]");
      followup.querySelector('[name="' + holder.dataset.codeField + '"]').value = display;
      root.intakeSeal.attach(followup, { fallback: false, failed: page.text.followupFailed });
    }
    var again = main.querySelector("form[data-lookup]");
    if (again) {
      attach(again);
      settings(again).field.value = typed;  // what was typed stays, to be checked
    }
    var focus = main.querySelector(".summary, .result");
    if (focus) {
      focus.tabIndex = -1;
      focus.focus();
    }
  }

  function attach(form) {
    var page = settings(form);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var typed = page.field.value;
      // Every step runs inside the promise, so that any failure (a format module that did not
      // load too) ends in the catch below: nothing more sent, and the defender told why.
      Promise.resolve().then(function () {
        clear(form, page);
        var cleaned = format.clean(typed);
        var examined = cleaned === "" ? { code: null, problem: "empty", count: 0 } :
          format.examineCode(cleaned, page.lookalikes);
        if (examined.code === null) {
          showProblem(form, page, examined.problem, examined.count);
          return null;
        }
        var canonical = examined.code.replace(/-/g, "");
        var body = new URLSearchParams();
        body.append(page.token.name, page.token.value);
        body.append(form.dataset.lookupField, lookup.toHex(lookup.lookupId(canonical)));
        return fetch(form.action, { method: "POST", body: body, credentials: "same-origin", cache: "no-store" })
          .then(function (response) { return response.text(); })
          .then(function (html) { show(html, page, typed, examined.code, canonical); });
      }).catch(function () {
        showFailure(form, page.text);
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-lookup]"), attach);
})(window);
