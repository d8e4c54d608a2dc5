// The browser's validators under Node, loaded as the page loads them, for
// tests/test_browser_validators.py. One process answers many questions: each line on stdin is
// {"op": ..., ...} as JSON, each answer one line of JSON on stdout.
"use strict";
const readline = require("readline");
const { loadPage } = require("./page");

const format = loadPage().intakeFormat;
const CHOICES = ["MultiCheckboxField", "RadioField", "SelectField", "CountryField"];
// Each message is its own key, so an error says which check refused the answer.
const MESSAGES = new Proxy({}, { get: (_, key) => key });

// What seal.js's readAnswers does with the form's controls: text cleaned, choices as they are.
function asRead(rules, raw) {
  const answers = {};
  for (const rule of rules) {
    answers[rule.name] = CHOICES.includes(rule.type) ? raw[rule.name] : format.clean(raw[rule.name]);
  }
  return answers;
}

// Every Unicode scalar value but the surrogates.
function* scalars() {
  for (let point = 0; point <= 0x10ffff; point++) {
    if (point < 0xd800 || point > 0xdfff) yield point;
  }
}

const ops = {
  constants: () => format.constants,
  // Read and check answers as the page does before sealing: {errors, answers} per case.
  check: (request) => request.cases.map((raw) => {
    const answers = asRead(request.rules, raw);
    const errors = format.check(answers, request.rules, MESSAGES, request.tables);
    return { errors, answers };
  }),
  clean: (request) => request.cases.map((text) => {
    const cleaned = format.clean(text);
    return { cleaned, length: format.codePointLength(cleaned) };
  }),
  files: (request) => request.cases.map((file) => ({ name: format.fileName(file.name),
                                                      type: format.mediaType(file.type) })),
  // Every code point alone, so no digit, separator or space escapes: what a number field reads
  // of "1" + c + "2" (when it accepts it), and what cleaning makes of c + "a" + c + "b" + c
  // (when it changes anything).
  scalars: (request) => {
    const numbers = {}, cleaned = {};
    const rule = request.rule;
    for (const point of scalars()) {
      const c = String.fromCodePoint(point);
      const answers = { [rule.name]: format.clean("1" + c + "2") };
      if (Object.keys(format.check(answers, [rule], MESSAGES, request.tables)).length === 0) {
        numbers[point] = answers[rule.name];
      }
      const text = c + "a" + c + "b" + c;
      if (format.clean(text) !== text) cleaned[point] = format.clean(text);
    }
    return { numbers, cleaned };
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const request = JSON.parse(line);
  process.stdout.write(JSON.stringify(ops[request.op](request)) + "\n");
});
