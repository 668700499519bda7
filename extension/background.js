// The extension's service worker: the only place that reads the API key and calls the quote API.
//
// Extension pages (popup, options) and the Kalshi content script talk to it with chrome.runtime.sendMessage
// ({type, ...}). Content scripts may only look up a page's markets and add legs; they never see the key.
// The slip (legs, stake) and the current quote live in chrome.storage.session, so the popup and the Kalshi
// panel show the same slip, and it survives the worker being stopped.

import {describeError} from "./shared/messages.js";
import {blockReason, parseStake, sameLegs} from "./shared/slip.js";

export const DEFAULT_API_URL = "http://127.0.0.1:8000";
const TIMEOUT_MS = 10_000;
const RECENT_BETS_KEPT = 10;
const RECENT_BETS_SHOWN = 5;
const TICKER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$/;
const EMPTY_SLIP = {legs: [], stake: "10.00"};

// Content scripts run in web pages: keep the key (chrome.storage.local) out of their reach. Session storage
// is limited to the extension's own pages by default.
chrome.storage.local.setAccessLevel?.({accessLevel: "TRUSTED_CONTEXTS"})
  .catch((e) => console.warn("storage.local access level:", e?.message ?? e));

// ----------------------------------------------------------------------------- settings and HTTP

export function normalizeUrl(url) {
  return String(url ?? "").trim().replace(/\/+$/, "");
}

async function settings() {
  const {apiUrl, apiKey} = await chrome.storage.local.get(["apiUrl", "apiKey"]);
  return {apiUrl: normalizeUrl(apiUrl || DEFAULT_API_URL), apiKey: apiKey || ""};
}

function originPattern(apiUrl) {
  try {
    return new URL(apiUrl).origin + "/*";
  } catch {
    return null;
  }
}

async function hasAccess(apiUrl) {
  const pattern = originPattern(apiUrl);
  return pattern !== null && chrome.permissions.contains({origins: [pattern]});
}

function failure(error) {
  return {ok: false, error: {...error, message: describeError(error)}};
}

/** Call the API: {ok, status, data, date} or {ok: false, error: {code, message, ...}, data?}. */
async function call(path, {method = "GET", body, auth = true, apiUrl, apiKey} = {}) {
  if (apiUrl === undefined) ({apiUrl, apiKey} = await settings());
  if (!/^https?:\/\//.test(apiUrl)) return failure({code: "not_configured"});
  const headers = {Accept: "application/json"};
  if (auth) {
    if (!apiKey) return failure({code: "missing_api_key"});
    headers["X-API-Key"] = apiKey;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(apiUrl + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS), cache: "no-store", credentials: "omit",
    });
  } catch (e) {
    let code = "network_error";
    if (e?.name === "TimeoutError") code = "timeout";
    else if (!(await hasAccess(apiUrl))) code = "no_access";
    return failure({code, reason: String(e?.message ?? e), apiUrl});
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (resp.ok && data !== null) return {ok: true, status: resp.status, data, date: resp.headers.get("date")};
  if (data && typeof data.code === "string") {
    return failure({code: data.code, reason: data.reason, details: data.details, status: resp.status,
                    requestId: data.request_id, retryAfter: resp.headers.get("retry-after"), apiUrl});
  }
  return {...failure({code: "not_json", status: resp.status, apiUrl}), data};
}

// ----------------------------------------------------------------------------- the slip

let queue = Promise.resolve();

/** Run slip mutations one at a time (the popup and a Kalshi tab may add legs at once). */
function serialized(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

async function readState() {
  const {slip, quote} = await chrome.storage.session.get(["slip", "quote"]);
  return {slip: slip ?? EMPTY_SLIP, quote: quote ?? null};
}

async function writeSlip(slip) {
  await chrome.storage.session.set({slip, quote: null}); // a quote is good only for the slip it priced
}

function clip(value, n = 200) {
  return value == null ? null : String(value).slice(0, n);
}

function cleanLeg(leg) {
  if (!leg || !TICKER.test(String(leg.ticker)) || !["yes", "no"].includes(leg.side)) return null;
  return {ticker: String(leg.ticker).toUpperCase(), side: leg.side, event_ticker: clip(leg.event_ticker, 150),
          title: clip(leg.title), yes_sub_title: clip(leg.yes_sub_title), no_sub_title: clip(leg.no_sub_title)};
}

const addLeg = (msg) => serialized(async () => {
  const leg = cleanLeg(msg.leg);
  if (leg === null) return failure({code: "invalid_ticker"});
  const {slip} = await readState();
  const blocked = blockReason(slip.legs, leg);
  if (blocked) return {...failure({code: blocked}), legs: slip.legs};
  const next = {...slip, legs: [...slip.legs, leg]};
  await writeSlip(next);
  return {ok: true, legs: next.legs};
});

const removeLeg = (msg) => serialized(async () => {
  const {slip} = await readState();
  const next = {...slip, legs: slip.legs.filter((l) => l.ticker !== msg.ticker)};
  await writeSlip(next);
  return {ok: true, legs: next.legs};
});

const clearSlip = () => serialized(async () => {
  const {slip} = await readState();
  await writeSlip({...slip, legs: []});
  return {ok: true, legs: []};
});

const setStake = (msg) => serialized(async () => {
  const stake = parseStake(msg.stake);
  if (stake === null) return failure({code: "invalid_stake"});
  const {slip} = await readState();
  if (slip.stake !== stake) await writeSlip({...slip, stake});
  return {ok: true, stake};
});

// ----------------------------------------------------------------------------- markets

async function searchMarkets(msg) {
  const r = await call(`/markets?search=${encodeURIComponent(String(msg.search ?? "").slice(0, 200))}`);
  if (!r.ok) return r;
  return {ok: true, count: r.data.count, markets: r.data.markets.slice(0, 25)};
}

/** The markets of a Kalshi page, from the tickers its URL path suggests (tried in order): an event ticker, or a
 * market ticker (then its event). An empty list when the API knows none of them. */
async function pageMarkets(msg) {
  const candidates = (Array.isArray(msg.candidates) ? msg.candidates : [])
    .map(String).filter((c) => TICKER.test(c)).slice(0, 3);
  for (const c of candidates) {
    const ev = await call(`/markets?event_ticker=${encodeURIComponent(c)}`);
    if (!ev.ok) return ev;
    if (ev.data.count > 0) return {ok: true, event_ticker: c.toUpperCase(), markets: ev.data.markets};
    const found = await call(`/markets?search=${encodeURIComponent(c)}`);
    if (!found.ok) return found;
    const market = found.data.markets.find((m) => m.ticker.toUpperCase() === c.toUpperCase());
    if (market && market.event_ticker) {
      const siblings = await call(`/markets?event_ticker=${encodeURIComponent(market.event_ticker)}`);
      if (!siblings.ok) return siblings;
      return {ok: true, event_ticker: market.event_ticker, market_ticker: market.ticker,
              markets: siblings.data.markets};
    }
    if (market) return {ok: true, event_ticker: null, market_ticker: market.ticker, markets: [market]};
  }
  return {ok: true, event_ticker: null, markets: []};
}

// ----------------------------------------------------------------------------- quotes and bets

/** When the quote expires on this machine's clock. The response's Date header says the server's time in whole
 * seconds (and servers cache it for up to a second): within that error the clocks agree and expires_at is used as
 * it is; a server whose clock is off by more is corrected for, ending the quote two seconds early to be safe. */
function localExpiry(expiresAt, date, receivedAt) {
  const expires = Date.parse(expiresAt);
  const skew = date ? Date.parse(date) - receivedAt : NaN;
  if (Number.isNaN(skew) || Math.abs(skew) <= 3000) return expires;
  return expires - skew - 2000;
}

async function getQuote() {
  const {slip} = await readState();
  if (slip.legs.length < 2) return failure({code: "too_few_legs"});
  const legs = slip.legs.map((l) => ({ticker: l.ticker, side: l.side}));
  const r = await call("/quotes", {method: "POST", body: {legs, stake: slip.stake}});
  if (!r.ok) {
    await chrome.storage.session.set({quote: null});
    return r;
  }
  return serialized(async () => {
    const now = await readState();
    if (!sameLegs(now.slip.legs, legs) || now.slip.stake !== slip.stake) return failure({code: "slip_changed"});
    const receivedAt = Date.now();
    const quote = {...r.data, received_at: receivedAt, local_expires_at: localExpiry(r.data.expires_at, r.date,
                                                                                      receivedAt), bet: null};
    await chrome.storage.session.set({quote});
    return {ok: true, quote};
  });
}

const inFlight = new Set();

async function placeBet(msg) {
  const {quote} = await readState();
  if (!quote || quote.quote_id !== msg.quoteId) return failure({code: "unknown_quote"});
  if (quote.bet) return failure({code: "quote_already_used"});
  if (Date.now() >= quote.local_expires_at) return failure({code: "quote_expired"});
  if (inFlight.has(quote.quote_id)) return failure({code: "bet_in_flight"});
  const key = String(msg.idempotencyKey ?? "");
  if (!key) return failure({code: "invalid_idempotency_key"});
  inFlight.add(quote.quote_id);
  try {
    const r = await call("/bets", {method: "POST", body: {quote_id: quote.quote_id, stake: quote.stake,
                                                          idempotency_key: key}});
    if (!r.ok) return r;
    const bet = r.data;
    await serialized(async () => {
      const now = await readState();
      if (now.quote && now.quote.quote_id === quote.quote_id) {
        await chrome.storage.session.set({quote: {...now.quote, bet}});
      }
      const {recentBets = []} = await chrome.storage.local.get("recentBets");
      const ids = [bet.bet_id, ...recentBets.filter((id) => id !== bet.bet_id)].slice(0, RECENT_BETS_KEPT);
      await chrome.storage.local.set({recentBets: ids});
    });
    return {ok: true, bet};
  } finally {
    inFlight.delete(quote.quote_id);
  }
}

async function recentBets() {
  const {recentBets: ids = []} = await chrome.storage.local.get("recentBets");
  const shown = ids.slice(0, RECENT_BETS_SHOWN);
  const answers = await Promise.all(shown.map((id) => call(`/bets/${encodeURIComponent(id)}`)));
  return {ok: true, bets: answers.map((r, i) => (r.ok ? r.data : {bet_id: shown[i], error: r.error}))};
}

// ----------------------------------------------------------------------------- test connection

async function testConnection(msg) {
  const apiUrl = normalizeUrl(msg.apiUrl || DEFAULT_API_URL);
  const apiKey = String(msg.apiKey ?? "").trim();
  const lines = [];
  const say = (level, text) => lines.push({level, text});
  const done = () => ({ok: true, lines,
                       state: lines.some((l) => l.level === "error") ? "error"
                         : lines.some((l) => l.level === "warn") ? "warn" : "ok"});
  if (!/^https?:\/\/[^/]+/.test(apiUrl)) {
    say("error", `"${apiUrl}" is not an http(s) URL such as ${DEFAULT_API_URL}.`);
    return done();
  }
  const health = await call("/health", {auth: false, apiUrl, apiKey});
  const h = health.data && typeof health.data.status === "string" ? health.data : null;
  if (h === null) {
    say("error", health.ok ? `${apiUrl} answers, but not like the parlay quote API (no status in /health).`
      : health.error.message);
    return done();
  }
  // the public /health says only ok, degraded or down; the rest is behind the key at /health/details
  let details = h;
  if (apiKey) {
    const d = await call("/health/details", {apiUrl, apiKey});
    if (d.ok && d.data && typeof d.data === "object") details = d.data;
  }
  if (h.status === "ok") say("ok", `Reached the API at ${apiUrl}: status ok.`);
  else {
    const db = details.database && details.database.ok === false
      ? ` The database is down (${details.database.error ?? "no answer"}).` : "";
    say(h.status === "down" ? "error" : "warn", `Reached the API at ${apiUrl}, but its status is "${h.status}".${db}`);
  }
  if (details.model) {
    if (details.model.loaded) {
      const day = details.model.trading_day ? `, trading day ${details.model.trading_day}` : "";
      say("ok", `Pricing model ${details.model.version} is loaded (${details.model.markets} markets${day}).`);
    } else {
      say("error", `No pricing model is loaded (${details.model.error ?? "none stored"}): run \`parlay run\` first.`);
    }
  }
  if (!apiKey) {
    say("error", "No API key: create one with `parlay api-key create --name me` and paste it above.");
  } else {
    const m = await call("/markets", {apiUrl, apiKey});
    if (m.ok) say("ok", `The API key works: ${m.data.count} markets can be quoted.`);
    else if (m.error.code === "rate_limited") say("warn", `The API key is valid, but ${m.error.message}`);
    else if (["invalid_api_key", "missing_api_key"].includes(m.error.code)) {
      say("error", "Wrong API key: the API does not know it, or it was revoked. Create one with " +
        "`parlay api-key create --name me` and paste it above.");
    } else say("error", `The key could not be checked: ${m.error.message}`);
  }
  if (details.rate_limiting === "on") say("ok", "Rate limiting is on (Redis): each key is held to its limit.");
  else if (details.rate_limiting === "off") {
    say("warn", "Rate limiting is off: the API runs without Redis, so no key is limited. Set PARLAY_REDIS_URL " +
      "where the API runs.");
  } else say("warn", "The API does not say whether rate limiting is on.");
  return done();
}

// ----------------------------------------------------------------------------- messages

async function getState() {
  const [{slip, quote}, s] = await Promise.all([readState(), settings()]);
  return {ok: true, slip, quote, settings: {apiUrl: s.apiUrl, hasKey: Boolean(s.apiKey)}};
}

const HANDLERS = {
  getState, searchMarkets, pageMarkets, addLeg, removeLeg, clearSlip, setStake, getQuote, placeBet, recentBets,
  testConnection,
  slipLegs: async () => ({ok: true, legs: (await readState()).slip.legs.map((l) => ({ticker: l.ticker,
                                                                                   side: l.side}))}),
};
// what a content script (a Kalshi page) may ask for: nothing that returns or uses more than markets and the slip
const CONTENT_SCRIPT_TYPES = new Set(["pageMarkets", "addLeg", "slipLegs"]);

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  const fromExtensionPage = sender.id === chrome.runtime.id && typeof sender.url === "string" &&
    sender.url.startsWith(chrome.runtime.getURL(""));
  const handler = Object.hasOwn(HANDLERS, msg?.type) ? HANDLERS[msg.type] : null;
  if (handler === null || (!fromExtensionPage && !CONTENT_SCRIPT_TYPES.has(msg.type))) {
    sendResponse(failure({code: "forbidden", reason: `${msg?.type} is not allowed here`}));
    return false;
  }
  Promise.resolve()
    .then(() => handler(msg, sender))
    .then(sendResponse, (e) => sendResponse(failure({code: "extension_error", reason: String(e?.message ?? e)})));
  return true; // the answer comes asynchronously
});
