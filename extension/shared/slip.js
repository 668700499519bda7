// The parlay slip's rules, shared by the service worker (which owns the slip) and the popup (which greys out
// the buttons that would break them). The API checks the same rules again.

export const MAX_LEGS = 10;

/** Why `leg` ({ticker, side}) cannot join `legs`, as an error code, or null when it can. */
export function blockReason(legs, leg) {
  const ticker = String(leg.ticker).toUpperCase();
  for (const l of legs) {
    if (l.ticker === ticker) return l.side === leg.side ? "slip_duplicate" : "slip_conflict";
  }
  if (legs.length >= MAX_LEGS) return "slip_full";
  return null;
}

/** A stake typed by the user as a Decimal string with two places ("10.00"), or null when it is not one. */
export function parseStake(text) {
  const s = String(text ?? "").trim().replace(/^\$/, "");
  if (!/^\d+(\.\d{1,2})?$/.test(s)) return null;
  const n = Number(s);
  if (!(n > 0)) return null;
  return n.toFixed(2);
}

/** A label for a leg: "YES Oklahoma City" (the side's subtitle when the market has one). */
export function legLabel(leg) {
  const sub = leg.side === "yes" ? leg.yes_sub_title : leg.no_sub_title;
  return `${leg.side.toUpperCase()} ${sub || leg.title || leg.ticker}`;
}

/** The same legs in the same order (a quote is only good for the slip it was asked for). */
export function sameLegs(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((l, i) => l.ticker === b[i].ticker && l.side === b[i].side);
}
