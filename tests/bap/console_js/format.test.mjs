// Decimal strings are rounded as text: amounts a float would round the wrong way come out right.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  kw,
  label,
  money,
  number,
  percent,
  positive,
  roundDecimal,
  share,
} from "../../../bap/console/static/format.js";

test("roundDecimal rounds half up on the digits, not through a float", () => {
  assert.equal(roundDecimal("13.50045", 2), "13.50");
  assert.equal(roundDecimal("0.995", 2), "1.00");
  assert.equal(roundDecimal("9.999", 2), "10.00");
  assert.equal(roundDecimal("45", 2), "45.00");
  assert.equal(roundDecimal("2.5", 0), "3");
  assert.equal(roundDecimal("-1.005", 2), "-1.01");
  assert.equal(roundDecimal("-0.004", 2), "0.00");
  assert.equal(roundDecimal("007.1", 1), "7.1");
});

test("money keeps two decimals where floats would not", () => {
  assert.equal((0.015).toFixed(2), "0.01", "the float rounding this guards against");
  assert.equal(money("0.015", "INR"), "INR 0.02");
  assert.equal(money("1.005", "INR"), "INR 1.01");
  assert.equal(money("12345.678", "INR"), "INR 12,345.68");
  assert.equal(money("8"), "8.00");
  assert.equal(money(null, "INR"), "–");
});

test("kW figures drop trailing zeros and group thousands", () => {
  assert.equal(number("13.50045"), "13.5");
  assert.equal(number("45"), "45");
  assert.equal(number("1000000.004"), "1,000,000");
  assert.equal(kw("14.211"), "14.21 kW");
  assert.equal(kw(null), "–");
});

test("a fraction becomes a percentage by moving the decimal point", () => {
  assert.equal(percent("0.95"), "95 %");
  assert.equal(percent("0.955"), "95.5 %");
  assert.equal(percent("0.9"), "90 %");
  assert.equal(percent("1"), "100 %");
  assert.equal(percent(null), "–");
});

test("shares for bar widths stay within 0 and 1", () => {
  assert.equal(share("36", "49.5") > 0.72 && share("36", "49.5") < 0.73, true);
  assert.equal(share("80", "40"), 1);
  assert.equal(share("5", "0"), 0);
  assert.equal(share(null, "10"), 0);
});

test("codes read as words", () => {
  assert.equal(label("AWAITING_APPROVAL"), "Awaiting approval");
  assert.equal(label("grid_alert"), "Grid alert");
});

test("positive reads a decimal string as text: a shortfall of 0.000 is none", () => {
  assert.equal(positive("3.8"), true);
  assert.equal(positive("0.001"), true);
  assert.equal(positive("0"), false);
  assert.equal(positive("0.000"), false);
  assert.equal(positive("-1.5"), false);
  assert.equal(positive(""), false);
  assert.equal(positive(null), false);
  assert.equal(positive("n/a"), false);
});
