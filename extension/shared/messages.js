// Human sentences for every refusal the quote API can give (its `code`), and for network failures.
// Used by the service worker, so the popup, the options page and the Kalshi panel all say the same thing.

const money = (v) => formatMoney(v);

// code -> sentence; a function gets the error ({code, reason, details, retryAfter, status}).
const SENTENCES = {
  // the legs
  impossible_combo: "These legs cannot all win together (one rules another out). Remove one of them.",
  duplicate_legs: "The same leg is in the slip twice. Remove one of them.",
  conflicting_sides: "The slip holds both sides of one market, which cannot both win. Keep one side.",
  too_few_legs: "A parlay needs at least two legs. Add another leg.",
  too_many_legs: "The slip has more legs than the API quotes. Remove some legs.",
  unknown_market: (e) => `The API does not quote ${e.details?.ticker ?? "one of these markets"} (it is not in the ` +
    "current model). Remove that leg or search again.",
  invalid_ticker: "A leg's ticker is not a Kalshi market ticker. Remove it and add the market again.",
  invalid_side: "A leg's side must be YES or NO.",
  market_closed: (e) => `${e.details?.ticker ?? "One of these markets"} is closed: it can no longer be bet on. ` +
    "Remove that leg.",
  // the stake
  invalid_stake: "The stake must be a positive amount in dollars and cents.",
  stake_too_small: "The stake is below the smallest bet the book takes. Raise it.",
  stake_above_max: (e) => "The stake is above the largest bet the book takes" +
    (e.details?.max_stake ? `: at most ${money(e.details.max_stake)}.` : ". Lower it."),
  stake_exceeds_quote: "The stake is above the quoted stake. Get a new quote for this stake.",
  // risk limits
  market_exposure_limit: (e) => "The book already holds as much risk as it takes on one of these outcomes" +
    (e.details?.max_stake && Number(e.details.max_stake) > 0
      ? `; the most it takes now is ${money(e.details.max_stake)}.` : ". Try other legs or a smaller stake."),
  lp_capacity: (e) => "The liquidity pool cannot cover this payout right now" +
    (e.details?.max_stake && Number(e.details.max_stake) > 0
      ? `; the most it takes now is ${money(e.details.max_stake)}.` : ". Try a smaller stake later."),
  lp_drawdown: "The liquidity pool has lost more than its drawdown limit, so the book is not taking new bets.",
  uncertainty_too_high: "The model is too unsure about this combination to quote it. Try fewer or other legs.",
  model_not_converged: "The model for one of these games did not converge, so it is not quoted. Try another game.",
  price_off_grid: "The price fell outside the quotable range. Try other legs.",
  probability_out_of_range: "This parlay is too likely or too unlikely to be quoted. Try other legs.",
  // quotes and bets
  quote_expired: "This quote has expired: quote again.",
  price_moved: "The price moved since the quote: quote again to see the new price.",
  price_changed: "The price changed since the quote: quote again to see the new price.",
  quote_already_used: "A bet was already placed on this quote. Get a new quote to bet again.",
  quote_exhausted: "This quote's stake is already taken. Get a new quote to bet again.",
  unknown_quote: "The API does not know this quote (it may belong to another key). Quote again.",
  unknown_bet: "The API does not know this bet for your key.",
  idempotency_key_reused: "This request was already used for a different bet. Try again.",
  // the API itself
  missing_api_key: "No API key is set: open Settings and paste your key (`parlay api-key create --name me`).",
  invalid_api_key: "The API key is wrong or revoked: open Settings and paste a valid key " +
    "(`parlay api-key create --name me`).",
  rate_limited: (e) => "Too many requests for this key" +
    (e.retryAfter ? `: wait ${e.retryAfter} s and try again.` : ": wait a moment and try again."),
  rate_limiter_unavailable: "The API's rate limiter (Redis) is down, so it refuses requests. Try again shortly.",
  database_unavailable: "The API cannot reach its database right now. Try again shortly.",
  pricer_unavailable: "The API has no pricing model loaded. Run the pipeline (`parlay run`) and try again.",
  stale_model: "The pricing model is too old to quote from. Refit it, then quote again.",
  stale_market_data: (e) => `Market data for ${e.details?.ticker ?? "one of these markets"} is out of date, so ` +
    "it cannot be quoted now. Try again shortly.",
  payload_too_large: "The request was too large for the API.",
  headers_too_large: "The request's headers were too large for the API.",
  malformed_json: "The API could not read the request.",
  invalid_request: (e) => `The API refused the request as malformed (${e.reason}).`,
  invalid_idempotency_key: "The bet request was malformed. Try again.",
  internal_error: "The API failed unexpectedly; it logged the error. Try again, and check the API's log.",
  not_found: "The API at this address does not have that route: is the API URL right?",
  method_not_allowed: "The API at this address does not accept that request: is the API URL right?",
  // raised inside the extension
  network_error: (e) => `Cannot reach the API at ${e.apiUrl ?? "the configured URL"}: is \`parlay serve\` running ` +
    "there? Check the API URL in Settings.",
  no_access: (e) => `The extension has no access to ${e.apiUrl ?? "the API"}: open Settings and save the API URL ` +
    "again to grant it.",
  timeout: "The API did not answer in time. Try again.",
  not_configured: "Set the API URL and key in Settings first.",
  not_json: (e) => `The server at ${e.apiUrl ?? "the API URL"} did not answer like the parlay quote API ` +
    `(HTTP ${e.status}). Check the API URL in Settings.`,
  slip_duplicate: "This leg is already in the slip.",
  slip_conflict: "The other side of this market is already in the slip; a parlay cannot hold both sides.",
  slip_full: "The slip is full. Remove a leg first.",
  bet_in_flight: "The bet is being placed; wait for the answer.",
  slip_changed: "The slip changed while the quote was on its way: quote again.",
  forbidden: "The extension refused this request.",
  extension_error: (e) => `The extension failed unexpectedly (${e.reason}).`,
};

/** The sentence for an error {code, reason, details, ...}; unknown codes fall back to the API's reason. */
export function describeError(error) {
  if (!error) return "";
  const entry = SENTENCES[error.code];
  if (typeof entry === "function") return entry(error);
  if (entry) return entry;
  const reason = error.reason ? `: ${error.reason}` : ".";
  return `The API refused the request (${error.code ?? "HTTP " + (error.status ?? "?")})${reason}`;
}

export const KNOWN_CODES = Object.keys(SENTENCES);

/** "$12.30" from a Decimal string or number. */
export function formatMoney(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return "$" + n.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
}

/** "23.4 %" from a probability in [0, 1]. */
export function formatPercent(p, digits = 1) {
  const n = Number(p);
  return Number.isFinite(n) ? `${(n * 100).toFixed(digits)} %` : "–";
}
