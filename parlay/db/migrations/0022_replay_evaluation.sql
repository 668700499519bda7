-- The replay evaluation (`parlay evaluate replay`, assets evaluation/replay_*): the paper's Table 4 per run,
-- per day and over all of the run's days (trading_day NULL).
CREATE TABLE evaluation.replay_runs (
    run_id              bigserial PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    days                date[] NOT NULL,
    settings            jsonb NOT NULL,      -- per day: how its combo flow came about
    report              jsonb NOT NULL,      -- the --json report (per day, combined, mean ± 2 SE across days)
    pnl_png_url         text,
    calibration_png_url text
);

CREATE TABLE evaluation.replay_strategies (
    run_id      bigint NOT NULL REFERENCES evaluation.replay_runs (run_id) ON DELETE CASCADE,
    trading_day date,                        -- NULL: every day of the run together
    strategy    text NOT NULL,
    trades      integer NOT NULL,
    accepted    integer NOT NULL CHECK (accepted <= trades),
    win_rate    double precision,
    premium     numeric(18, 4) NOT NULL,
    payout      numeric(18, 4) NOT NULL,
    net_pnl     numeric(18, 4) NOT NULL CHECK (net_pnl = premium - payout),
    capital     numeric(18, 4) NOT NULL CHECK (capital >= 0),
    roi         double precision,
    sharpe      double precision,
    brier       double precision
);
CREATE UNIQUE INDEX replay_strategies_key ON evaluation.replay_strategies (run_id, coalesce(trading_day, 'infinity'::date), strategy);
