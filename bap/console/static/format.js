// Numbers arrive as decimal strings ("14.211"); they are rounded and grouped as text, never through
// floats, so a money amount on screen is exactly the BAP's amount rounded half-up.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** `text` rounded half-up to `places` decimals, as a string with exactly that many decimals. */
export function roundDecimal(text, places) {
  const match = DECIMAL.exec(String(text).trim());
  if (!match) return String(text);
  const [, sign, whole, fraction = ""] = match;
  const padded = (fraction + "0".repeat(places + 1)).slice(0, places + 1);
  let digits = whole + padded.slice(0, places);
  if (Number(padded[places]) >= 5) digits = increment(digits);
  const cut = digits.length - places;
  const integer = digits.slice(0, cut).replace(/^0+(?=\d)/, "") || "0";
  const decimals = digits.slice(cut);
  const zero = /^0*$/.test(integer + decimals);
  return (zero ? "" : sign) + integer + (places > 0 ? "." + decimals : "");
}

function increment(digits) {
  const out = digits.split("");
  for (let i = out.length - 1; i >= 0; i -= 1) {
    if (out[i] === "9") {
      out[i] = "0";
    } else {
      out[i] = String(Number(out[i]) + 1);
      return out.join("");
    }
  }
  return "1" + out.join("");
}

/** Whether a decimal string is above zero, read as text: "3.8" is, "0.000", "-1" and "" are not. */
export function positive(text) {
  const match = DECIMAL.exec(String(text ?? "").trim());
  return Boolean(match) && !match[1] && /[1-9]/.test(match[2] + (match[3] ?? ""));
}

/** Thousands separated with a comma: "12345.5" → "12,345.5". */
export function group(text) {
  const [integer, decimals] = String(text).split(".");
  const sign = integer.startsWith("-") ? "-" : "";
  const digits = integer.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + digits + (decimals === undefined ? "" : "." + decimals);
}

/** Up to `places` decimals, trailing zeros dropped: "13.50045" → "13.5", "45" → "45". */
export function number(text, places = 2) {
  if (text === null || text === undefined || text === "") return "–";
  const rounded = roundDecimal(text, places);
  const trimmed = rounded.includes(".") ? rounded.replace(/\.?0+$/, "") : rounded;
  return group(trimmed);
}

export function kw(text) {
  return text === null || text === undefined ? "–" : `${number(text)} kW`;
}

export function kwh(text) {
  return text === null || text === undefined ? "–" : `${number(text)} kWh`;
}

/** Money always with two decimals and its currency: "INR 12.26". */
export function money(text, currency = "") {
  if (text === null || text === undefined || text === "") return "–";
  const amount = group(roundDecimal(text, 2));
  return currency ? `${currency} ${amount}` : amount;
}

/** A fraction as a percentage, by moving the decimal point: "0.955" → "95.5 %". */
export function percent(text) {
  const match = DECIMAL.exec(String(text ?? "").trim());
  if (!match) return "–";
  const [, sign, whole, fraction = ""] = match;
  const shifted = `${sign}${whole}${fraction.padEnd(2, "0").slice(0, 2)}.${fraction.slice(2) || "0"}`;
  return `${number(shifted, 1)} %`;
}

/** A share for drawing only (bar widths): never shown as a number. */
export function share(part, whole) {
  const a = Number(part);
  const b = Number(whole);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return 0;
  return Math.max(0, Math.min(1, a / b));
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "–";
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
const DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const CLOCK = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** "21 Nov 17:00–18:00" in the browser's time zone (named once in the page header). */
export function windowText(window) {
  if (!window || !window.start) return "window unknown";
  const start = new Date(window.start);
  const end = new Date(window.end);
  const sameDay = DAY.format(start) === DAY.format(end);
  const tail = sameDay ? TIME.format(end) : `${DAY.format(end)} ${TIME.format(end)}`;
  return `${DAY.format(start)} ${TIME.format(start)}–${tail}`;
}

export function clock(at) {
  return at ? CLOCK.format(new Date(at)) : "";
}

export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

/** "AWAITING_APPROVAL" → "Awaiting approval". */
export function label(code) {
  if (!code) return "–";
  const words = String(code).toLowerCase().replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
