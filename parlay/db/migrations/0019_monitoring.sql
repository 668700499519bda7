-- Monitoring: P&L, the LP pool, hedge quality and model drift, one set of rows per trading day (the
-- monitoring/* assets replace their day's rows on every materialization), the graded checks, and the pauses
-- of the hedge schedule a failed ERROR check causes.
CREATE SCHEMA IF NOT EXISTS monitoring;

-- Hourly P&L of the day's bets and hedges, per game cluster ('cross-game': bets over several games) and in
-- total (cluster_id 'total'); component 'book' = bets + hedges.
CREATE TABLE monitoring.pnl (
    trading_day date NOT NULL,
    hour        timestamptz NOT NULL,
    cluster_id  text NOT NULL,
    component   text NOT NULL CHECK (component IN ('bets', 'hedges', 'book')),
    realized    numeric(20, 4) NOT NULL,
    unrealized  numeric(20, 4) NOT NULL,
    total       numeric(20, 4) NOT NULL,
    PRIMARY KEY (trading_day, hour, cluster_id, component)
);

-- The LP pool over the day: from ledger.equity_marks when the day has marks, else derived hourly from the
-- ledger's cash flows (source says which).
CREATE TABLE monitoring.lp_pool (
    trading_day date NOT NULL,
    at          timestamptz NOT NULL,
    source      text NOT NULL CHECK (source IN ('equity_marks', 'ledger')),
    cash        numeric(20, 4) NOT NULL,
    equity      numeric(20, 4) NOT NULL,
    peak        numeric(20, 4) NOT NULL,
    drawdown    double precision NOT NULL,   -- (peak − equity) / peak
    worst_case  numeric(20, 4) NOT NULL,     -- worst-case payout of the bets open then
    utilization double precision,            -- worst_case / cash
    open_bets   integer NOT NULL,
    PRIMARY KEY (trading_day, at)
);

-- Every hedge order of the day: slippage against the mid at decision time, fill, time to fill.
CREATE TABLE monitoring.hedge_quality (
    trading_day     date NOT NULL,
    client_order_id text NOT NULL,
    market_ticker   text NOT NULL,
    cluster_id      text,
    side            text NOT NULL,
    action          text NOT NULL,
    count           numeric(20, 2) NOT NULL,
    filled_count    numeric(20, 2) NOT NULL,
    state           text NOT NULL,
    decided_at      timestamptz,
    mid_yes         double precision,          -- the market's YES mid at decision time
    fill_price      double precision,          -- contract-weighted mean fill price
    slippage_cents  double precision,          -- per contract, positive: worse than the mid
    seconds_to_fill double precision,          -- first fill − order created
    PRIMARY KEY (trading_day, client_order_id)
);

-- The day's hedge quality in one row; effectiveness = 1 − Var(hedged) / Var(unhedged) of the settled bets'
-- book P&L under the model's joint law.
CREATE TABLE monitoring.hedge_summary (
    trading_day            date PRIMARY KEY,
    orders                 integer NOT NULL,
    orders_filled          integer NOT NULL,
    contracts_ordered      numeric(20, 2) NOT NULL,
    contracts_filled       numeric(20, 2) NOT NULL,
    fill_ratio             double precision,
    mean_slippage_cents    double precision,
    max_slippage_cents     double precision,
    median_seconds_to_fill double precision,
    settled_bets           integer NOT NULL,
    var_unhedged           double precision,
    var_hedged             double precision,
    effectiveness          double precision,
    bets_pnl               numeric(20, 4),
    hedges_pnl             numeric(20, 4)
);

-- Calibration of settled parlays by settlement day (dated by the markets' close_time): source 'bets' (the
-- book's bets at their quoted probability) and 'held_back' (the ensemble on held-back settled market parlays).
CREATE TABLE monitoring.calibration (
    trading_day date NOT NULL,
    settled_day date NOT NULL,
    source      text NOT NULL,
    n           integer NOT NULL,
    brier       double precision,
    log_loss    double precision,
    PRIMARY KEY (trading_day, settled_day, source)
);

-- The reliability diagram of the day's settled bets.
CREATE TABLE monitoring.reliability (
    trading_day    date NOT NULL,
    bin_lower      double precision NOT NULL,
    bin_upper      double precision NOT NULL,
    n              integer NOT NULL,
    mean_predicted double precision NOT NULL,
    observed_rate  double precision NOT NULL,
    PRIMARY KEY (trading_day, bin_lower)
);

-- How far a cluster's parameters moved between consecutive fits ('refit') and consecutive session
-- checkpoints of the day's fit ('session').
CREATE TABLE monitoring.parameter_drift (
    trading_day date NOT NULL,
    cluster_id  text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('refit', 'session')),
    from_ref    text NOT NULL,
    to_ref      text NOT NULL,
    n_variables integer NOT NULL,
    max_abs_dh  double precision NOT NULL,
    rms_dh      double precision NOT NULL,
    max_abs_dj  double precision NOT NULL,
    rms_dj      double precision NOT NULL,
    PRIMARY KEY (trading_day, cluster_id, kind, to_ref)
);

-- Population stability index of the CatBoost member's features: training rows vs held-back rows.
CREATE TABLE monitoring.feature_drift (
    trading_day date NOT NULL,
    feature     text NOT NULL,
    psi         double precision,
    n_reference integer NOT NULL,
    n_current   integer NOT NULL,
    PRIMARY KEY (trading_day, feature)
);

-- The monitoring checks' latest verdict per day: grade ok / warn / error against their thresholds.
CREATE TABLE monitoring.check_results (
    trading_day  date NOT NULL,
    check_name   text NOT NULL,
    grade        text NOT NULL CHECK (grade IN ('ok', 'warn', 'error')),
    value        double precision,
    warn_level   double precision,
    error_level  double precision,
    detail       text NOT NULL DEFAULT '',
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_day, check_name)
);

-- The hedge schedule is paused while a row has no resumed_at: written when a monitoring check fails at ERROR.
CREATE TABLE monitoring.hedge_pauses (
    pause_id    bigserial PRIMARY KEY,
    paused_at   timestamptz NOT NULL DEFAULT now(),
    trading_day date,
    check_name  text NOT NULL,
    reason      text NOT NULL,
    run_id      text,
    resumed_at  timestamptz,
    UNIQUE (run_id, check_name)
);
