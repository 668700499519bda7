{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['market_ticker', 'minute']}, {'columns': ['trading_day', 'cluster_id']}],
    post_hook='analyze {{ this }}'
) }}
-- The 1-minute panel: one row per market and minute of its active span on a trading day, quotes
-- forward-filled from the last valid book state, with log-odds, their change, realized volatility,
-- staleness and the minute's trades.
select
    p.trading_day,
    p.market_ticker,
    p.cluster_id,
    p.minute,
    p.mid,
    p.yes_bid,
    p.yes_ask,
    p.spread,
    p.microprice,
    p.implied_probability,
    p.log_odds,
    p.d_log_odds,
    p.quote_ts,
    p.staleness_seconds,
    p.is_stale,
    coalesce(t.volume, 0) as volume,
    coalesce(t.trade_count, 0) as trade_count,
    p.realized_vol_15m,
    p.realized_vol_60m,
    p.n_changes_15m,
    p.n_changes_60m
from {{ ref('int_log_odds_changes_computed') }} as p
left join {{ ref('int_trades_bucketed') }} as t
    on t.market_ticker = p.market_ticker and t.minute = p.minute and t.trading_day = p.trading_day
where {{ on_run_day('p.trading_day') }}
