-- The ledger: double entry. Every movement of money is a transaction whose entries sum to zero.
-- Amounts are exact dollars (numeric(20,4)); a positive amount debits the account, a negative one
-- credits it. Business records (quotes, bets, hedge orders, fills, settlements) carry states and link
-- to the transactions they caused.

CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.accounts (
    account_id    text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN (
                      'lp_capital',      -- equity the liquidity providers put in (credit balance)
                      'pool_cash',       -- cash held by the pool (debit balance)
                      'bettor_stakes',   -- stakes of open bets, owed back only through settlement
                      'bet_liability',   -- payout reserved for open bets beyond their stakes
                      'reserve',         -- pool capital set aside against bet_liability
                      'payouts',         -- paid to winning bettors
                      'premium_income',  -- stakes of lost bets, kept by the pool
                      'fees',            -- exchange fees paid on hedges
                      'hedge_cash',      -- cash sent to / received from the exchange for hedges
                      'hedge_positions'  -- cost basis of contracts held on the exchange
                  )),
    market_ticker text,
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.transactions (
    txn_id          bigserial PRIMARY KEY,
    kind            text NOT NULL,         -- deposit, bet_placed, bet_settled, hedge_fill, hedge_settled, …
    ref_type        text,                  -- bet, hedge_order, fill, settlement
    ref_id          text,
    idempotency_key text UNIQUE,           -- the same business event never posts twice
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.entries (
    entry_id   bigserial PRIMARY KEY,
    txn_id     bigint NOT NULL REFERENCES ledger.transactions (txn_id),
    account_id text NOT NULL REFERENCES ledger.accounts (account_id),
    amount     numeric(20, 4) NOT NULL CHECK (amount <> 0)
);
CREATE INDEX entries_txn_idx ON ledger.entries (txn_id);
CREATE INDEX entries_account_idx ON ledger.entries (account_id);

-- A transaction balances at commit: deferred so its entries can be inserted one by one.
CREATE FUNCTION ledger.check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT coalesce(sum(amount), 0) INTO total FROM ledger.entries WHERE txn_id = NEW.txn_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum of entries = %)', NEW.txn_id, total;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER entries_balance
    AFTER INSERT OR UPDATE ON ledger.entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger.check_balanced();

-- Entries are facts: corrections are new transactions.
CREATE FUNCTION ledger.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();

CREATE TABLE ledger.api_keys (
    key_id       text PRIMARY KEY,          -- public prefix shown to the owner
    name         text NOT NULL,
    key_hash     text NOT NULL,             -- scrypt hash of the secret; the secret is never stored
    rate_per_min integer NOT NULL DEFAULT 120,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE ledger.quotes (
    quote_id     text PRIMARY KEY,
    api_key_id   text REFERENCES ledger.api_keys (key_id),
    legs         jsonb NOT NULL,            -- [{"ticker", "side"}]
    stake        numeric(20, 4) NOT NULL CHECK (stake > 0),
    probability  numeric(12, 10) NOT NULL,  -- model probability that every leg wins
    uncertainty  numeric(12, 10) NOT NULL,
    margin       numeric(12, 10) NOT NULL,
    price        numeric(8, 4) NOT NULL CHECK (price > 0 AND price < 1),  -- dollars per $1 payout
    payout       numeric(20, 4) NOT NULL,
    max_stake    numeric(20, 4) NOT NULL,
    model_version text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

CREATE TABLE ledger.bets (
    bet_id          text PRIMARY KEY,
    quote_id        text NOT NULL REFERENCES ledger.quotes (quote_id),
    api_key_id      text REFERENCES ledger.api_keys (key_id),
    idempotency_key text NOT NULL,
    stake           numeric(20, 4) NOT NULL CHECK (stake > 0),
    price           numeric(8, 4) NOT NULL,
    payout          numeric(20, 4) NOT NULL CHECK (payout > stake),
    state           text NOT NULL CHECK (state IN ('open', 'won', 'lost', 'void')),
    placed_at       timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX bets_state_idx ON ledger.bets (state);

CREATE TABLE ledger.bet_legs (
    bet_id        text NOT NULL REFERENCES ledger.bets (bet_id),
    leg_index     integer NOT NULL,
    market_ticker text NOT NULL,
    side          text NOT NULL CHECK (side IN ('yes', 'no')),
    PRIMARY KEY (bet_id, leg_index)
);
CREATE INDEX bet_legs_market_idx ON ledger.bet_legs (market_ticker);

CREATE TABLE ledger.hedge_orders (
    client_order_id text PRIMARY KEY,       -- deterministic: a retry cannot double an order
    venue           text NOT NULL CHECK (venue IN ('paper', 'demo', 'prod')),
    market_ticker   text NOT NULL,
    side            text NOT NULL CHECK (side IN ('yes', 'no')),
    action          text NOT NULL CHECK (action IN ('buy', 'sell')),
    count           numeric(20, 2) NOT NULL CHECK (count > 0),
    limit_price     numeric(8, 4) NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'submitted', 'resting', 'filled',
                                                   'partially_filled', 'canceled', 'rejected', 'unknown')),
    exchange_order_id text,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.fills (
    fill_id         text PRIMARY KEY,
    client_order_id text NOT NULL REFERENCES ledger.hedge_orders (client_order_id),
    market_ticker   text NOT NULL,
    side            text NOT NULL CHECK (side IN ('yes', 'no')),
    action          text NOT NULL CHECK (action IN ('buy', 'sell')),
    count           numeric(20, 2) NOT NULL CHECK (count > 0),
    price           numeric(8, 4) NOT NULL,
    fee             numeric(20, 4) NOT NULL DEFAULT 0,
    filled_at       timestamptz NOT NULL
);

CREATE TABLE ledger.market_settlements (
    market_ticker text PRIMARY KEY,
    result        text NOT NULL CHECK (result IN ('yes', 'no')),
    settled_at    timestamptz NOT NULL DEFAULT now()
);

-- Balances per account (debit positive).
CREATE VIEW ledger.account_balances AS
SELECT a.account_id, a.kind, a.market_ticker, coalesce(sum(e.amount), 0)::numeric(20, 4) AS balance
FROM ledger.accounts a LEFT JOIN ledger.entries e USING (account_id)
GROUP BY a.account_id, a.kind, a.market_ticker;

-- What open bets owe per leg: payout at risk if that leg (on that side) wins along with the others.
CREATE VIEW ledger.leg_exposures AS
SELECT l.market_ticker, l.side,
       count(*) AS open_bets,
       sum(b.stake)::numeric(20, 4) AS stakes,
       sum(b.payout)::numeric(20, 4) AS max_payout,
       sum(b.payout - b.stake)::numeric(20, 4) AS liability
FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id)
WHERE b.state = 'open'
GROUP BY l.market_ticker, l.side;

-- Contracts held on the exchange per market and side, from fills.
CREATE VIEW ledger.hedge_positions AS
SELECT market_ticker, side,
       sum(CASE WHEN action = 'buy' THEN count ELSE -count END)::numeric(20, 2) AS contracts,
       sum(CASE WHEN action = 'buy' THEN count * price ELSE -count * price END)::numeric(20, 4) AS cost,
       sum(fee)::numeric(20, 4) AS fees
FROM ledger.fills
GROUP BY market_ticker, side;
