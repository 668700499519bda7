-- Open quotes reserve capacity: every quote a key can take holds its payout (on its legs) against the
-- exposure limits and the LP capacity until it expires or is taken. What is left of a reservation is its
-- payout minus the payouts of the bets placed on its quote; new quotes and bets count the rest.
CREATE SCHEMA IF NOT EXISTS risk;

CREATE TABLE risk.quote_reservations (
    quote_id    text PRIMARY KEY REFERENCES ledger.quotes (quote_id),
    legs        jsonb NOT NULL,                 -- [{"ticker", "side"}], as on the quote
    payout      numeric(20, 4) NOT NULL CHECK (payout >= 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quote_reservations_expiry_idx ON risk.quote_reservations (expires_at);
CREATE INDEX bets_quote_idx ON ledger.bets (quote_id);
