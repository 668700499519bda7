// The parlay slip (popup): search markets, add and remove legs, quote, place the bet. Every API call goes
// through the service worker; the slip and the quote live in chrome.storage.session, so the Kalshi panel and
// this popup show the same slip.

import {describeError, formatMoney, formatPercent} from "./shared/messages.js";
import {blockReason, legLabel, parseStake} from "./shared/slip.js";

const $ = (id) => document.getElementById(id);
const testid = (root, name) => root.querySelector(`[data-testid="${name}"]`);
const send = (msg) => chrome.runtime.sendMessage(msg);

let slip = {legs: [], stake: "10.00"};
let quote = null;
let placing = false;
let quoting = false;
let results = [];
let searchSeq = 0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "testid") node.dataset.testid = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function showError(error) {
  const box = $("error");
  box.textContent = typeof error === "string" ? error : (error?.message ?? describeError(error));
  box.dataset.code = typeof error === "string" ? "" : (error?.code ?? "");
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function cents(mid) {
  return typeof mid === "number" ? `${Math.round(mid * 100)}¢` : "no price";
}

// ----------------------------------------------------------------------------- search results

function renderResults() {
  const list = $("results");
  list.replaceChildren(...results.map((m) => {
    const buttons = ["yes", "no"].map((side) => {
      const reason = blockReason(slip.legs, {ticker: m.ticker, side});
      return el("button", {type: "button", testid: `add-${side}`, className: `side ${side}`, disabled: Boolean(reason),
                           title: reason ? describeError({code: reason}) : `Add ${side.toUpperCase()} to the slip`,
                           onclick: () => addLeg(m, side)}, side.toUpperCase());
    });
    const sub = [m.yes_sub_title && `Yes: ${m.yes_sub_title}`, cents(m.mid), m.ticker].filter(Boolean).join(" · ");
    return el("li", {testid: "market-result", dataset: {ticker: m.ticker}},
              el("div", {className: "what"}, el("div", {className: "title"}, m.title || m.ticker),
                 el("div", {className: "sub muted"}, sub)),
              el("div", {className: "buttons"}, ...buttons));
  }));
}

let searchTimer = null;

$("market-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 250);
});

async function search() {
  const text = $("market-search").value.trim();
  const seq = ++searchSeq;
  if (!text) {
    results = [];
    renderResults();
    return;
  }
  const r = await send({type: "searchMarkets", search: text});
  if (seq !== searchSeq) return; // a newer search is on its way
  if (!r.ok) {
    results = [];
    showError(r.error);
  } else {
    results = r.markets;
    clearError();
    if (r.count === 0) showError(`No quotable market matches "${text}".`);
  }
  renderResults();
}

async function addLeg(market, side) {
  const r = await send({type: "addLeg", leg: {...market, side}});
  if (!r.ok) showError(r.error);
  else clearError();
}

// ----------------------------------------------------------------------------- the slip

function renderSlip() {
  const n = slip.legs.length;
  $("leg-count").textContent = n ? `(${n})` : "(none)";
  $("clear-slip").hidden = n === 0;
  $("slip").replaceChildren(...slip.legs.map((leg) => el(
    "li", {testid: "slip-leg", dataset: {ticker: leg.ticker, side: leg.side}},
    el("div", {className: "what"}, el("div", {className: "title"}, legLabel(leg)),
       el("div", {className: "sub muted"}, [leg.title, leg.ticker].filter(Boolean).join(" · "))),
    el("button", {type: "button", testid: "remove-leg", className: "link", title: "Remove this leg",
                  onclick: () => send({type: "removeLeg", ticker: leg.ticker})}, "remove"))));
  if (document.activeElement !== $("stake")) $("stake").value = slip.stake;
  renderResults();
}

$("clear-slip").addEventListener("click", () => send({type: "clearSlip"}));

$("stake").addEventListener("change", async () => {
  const stake = parseStake($("stake").value);
  if (stake === null) {
    showError({code: "invalid_stake"});
    return;
  }
  const r = await send({type: "setStake", stake});
  if (!r.ok) showError(r.error);
  else clearError();
});

// ----------------------------------------------------------------------------- the quote

function remaining(q) {
  return Math.max(0, Math.ceil((q.local_expires_at - Date.now()) / 1000));
}

function renderQuote() {
  const box = $("quote");
  const getQuote = $("get-quote");
  getQuote.disabled = quoting;
  if (!quote) {
    box.hidden = true;
    getQuote.textContent = "Get quote";
    return;
  }
  box.hidden = false;
  testid(box, "quote-probability").textContent = formatPercent(quote.probability);
  testid(box, "quote-price").textContent = `${formatMoney(quote.price)} per $1 of payout`;
  testid(box, "quote-payout").textContent = `${formatMoney(quote.payout)} for ${formatMoney(quote.stake)}`;
  testid(box, "quote-max-stake").textContent = formatMoney(quote.max_stake);
  testid(box, "quote-margin").textContent = `${(quote.margin * 100).toFixed(1)} points`;
  testid(box, "quote-id").textContent = quote.quote_id;
  const left = remaining(quote);
  const expiry = testid(box, "quote-expiry");
  const place = $("place-bet");
  const bet = quote.bet;
  if (bet) {
    expiry.textContent = "Bet placed on this quote.";
    expiry.dataset.state = "used";
  } else if (left > 0) {
    expiry.textContent = `Expires in ${left} s`;
    expiry.dataset.state = "live";
  } else {
    expiry.textContent = "Expired: quote again.";
    expiry.dataset.state = "expired";
  }
  getQuote.textContent = bet || left > 0 ? "Get quote" : "Quote again";
  place.disabled = placing || Boolean(bet) || left <= 0;
  place.textContent = placing ? "Placing…" : bet ? "Placed" : "Place bet";
  $("bet").hidden = !bet;
  if (bet) {
    testid(box, "bet-id").textContent = bet.bet_id;
    testid(box, "bet-status").textContent = bet.state;
    $("bet-detail").textContent = `${formatMoney(bet.stake)} at ${formatMoney(bet.price)}, pays ` +
      `${formatMoney(bet.payout)} if every leg wins.`;
  }
}

setInterval(() => quote && !quote.bet && renderQuote(), 250);

$("get-quote").addEventListener("click", async () => {
  const stake = parseStake($("stake").value);
  if (stake === null) {
    showError({code: "invalid_stake"});
    return;
  }
  quoting = true;
  renderQuote();
  try {
    if (stake !== slip.stake) {
      const s = await send({type: "setStake", stake});
      if (!s.ok) {
        showError(s.error);
        return;
      }
    }
    const r = await send({type: "getQuote"});
    if (!r.ok) showError(r.error);
    else {
      clearError();
      quote = r.quote;
    }
  } finally {
    quoting = false;
    renderQuote();
  }
});

$("place-bet").addEventListener("click", async () => {
  // disabled before the first await: a double click sends one request
  if (placing || !quote || quote.bet || remaining(quote) <= 0) return;
  placing = true;
  renderQuote();
  const idempotencyKey = crypto.randomUUID(); // fresh per click; a retry of this request would reuse it
  try {
    const r = await send({type: "placeBet", quoteId: quote.quote_id, idempotencyKey});
    if (!r.ok) showError(r.error);
    else {
      clearError();
      quote = {...quote, bet: r.bet};
      loadRecent();
    }
  } finally {
    placing = false;
    renderQuote();
  }
});

// ----------------------------------------------------------------------------- recent bets

async function loadRecent() {
  const r = await send({type: "recentBets"});
  const list = $("recent-bets");
  if (!r.ok || r.bets.length === 0) {
    list.replaceChildren(el("li", {className: "muted"}, r.ok ? "none yet" : r.error.message));
    return;
  }
  list.replaceChildren(...r.bets.map((b) => el(
    "li", {testid: "recent-bet", dataset: {betId: b.bet_id}}, el("code", {}, b.bet_id), " ",
    b.error ? el("span", {className: "muted"}, b.error.message)
      : el("span", {}, `${b.state} · ${formatMoney(b.stake)} → ${formatMoney(b.payout)} · ${b.legs.length} legs`))));
}

// ----------------------------------------------------------------------------- start

$("open-settings").addEventListener("click", () => chrome.runtime.openOptionsPage());

chrome.storage.onChanged.addListener((changes, area) => {
  if (area !== "session") return;
  if (changes.slip) {
    slip = changes.slip.newValue ?? {legs: [], stake: "10.00"};
    renderSlip();
  }
  if (changes.quote) {
    quote = changes.quote.newValue ?? null;
    renderQuote();
  }
});

async function start() {
  const s = await send({type: "getState"});
  slip = s.slip;
  quote = s.quote;
  $("api-state").textContent = s.settings.hasKey ? s.settings.apiUrl : "no API key: open Settings";
  renderSlip();
  renderQuote();
  loadRecent();
  $("market-search").focus();
}

start();
