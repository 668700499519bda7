-- The risk layer's outputs: the live quote table for listed combos, and limit snapshots per run.
CREATE SCHEMA IF NOT EXISTS risk;

CREATE TABLE risk.listed_quotes (
    trading_day      date NOT NULL,
    combo_ticker     text NOT NULL,
    ensemble_version text NOT NULL,
    n_legs           integer NOT NULL,
    quotable         boolean NOT NULL,
    rule             text,                 -- the risk rule that refused it, when not quotable
    probability      double precision,
    independence     double precision,
    uncertainty      double precision,
    margin           double precision,
    price            double precision,     -- dollars per $1 payout on Kalshi's tick grid
    max_stake        double precision,
    quoted_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_day, combo_ticker)
);

CREATE TABLE risk.limit_snapshots (
    snapshot_id        bigserial PRIMARY KEY,
    trading_day        date NOT NULL,
    taken_at           timestamptz NOT NULL DEFAULT now(),
    config             jsonb NOT NULL,
    pool_cash          numeric(20, 4) NOT NULL,
    pool_equity        numeric(20, 4) NOT NULL,
    peak_equity        numeric(20, 4) NOT NULL,
    drawdown           double precision NOT NULL,
    halted             boolean NOT NULL,
    open_bets          integer NOT NULL,
    worst_case_payout  numeric(20, 4) NOT NULL,
    worst_case_exact   boolean NOT NULL,
    capacity           numeric(20, 4) NOT NULL
);
