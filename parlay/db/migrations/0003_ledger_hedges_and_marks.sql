-- Hedge results get their own account kind; pool equity marks give the drawdown guardrail its peak.

ALTER TABLE ledger.accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE ledger.accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN (
    'lp_capital', 'pool_cash', 'bettor_stakes', 'bet_liability', 'reserve', 'payouts', 'premium_income',
    'fees', 'hedge_cash', 'hedge_positions', 'hedge_pnl'));

CREATE TABLE ledger.equity_marks (
    mark_id        bigserial PRIMARY KEY,
    marked_at      timestamptz NOT NULL DEFAULT now(),
    cash           numeric(20, 4) NOT NULL,
    expected_payout numeric(20, 4) NOT NULL,  -- open bets' payouts weighted by model probabilities
    hedge_value    numeric(20, 4) NOT NULL,   -- contracts held, marked to the book
    equity         numeric(20, 4) NOT NULL,   -- cash + hedge_value − expected_payout
    reason         text NOT NULL
);

ALTER TABLE ledger.bets ADD COLUMN trading_day date;
ALTER TABLE ledger.bets ADD COLUMN txn_placed bigint REFERENCES ledger.transactions (txn_id);
ALTER TABLE ledger.bets ADD COLUMN txn_settled bigint REFERENCES ledger.transactions (txn_id);
ALTER TABLE ledger.hedge_orders ADD COLUMN plan_key text;
ALTER TABLE ledger.hedge_orders ADD COLUMN filled_count numeric(20, 2) NOT NULL DEFAULT 0;
ALTER TABLE ledger.fills ADD COLUMN txn_id bigint REFERENCES ledger.transactions (txn_id);
CREATE TABLE ledger.hedge_settlements (
    market_ticker text NOT NULL,
    side          text NOT NULL CHECK (side IN ('yes', 'no')),
    contracts     numeric(20, 2) NOT NULL,
    value         numeric(20, 4) NOT NULL,
    txn_id        bigint NOT NULL REFERENCES ledger.transactions (txn_id),
    settled_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (market_ticker, side)
);
