{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['market_ticker', 'minute']}, {'columns': ['trading_day', 'minute']}],
    post_hook='analyze {{ this }}'
) }}
-- Log-odds of the forward-filled implied probability per market-minute, its 1-minute change, and the
-- realized volatility of those changes over the trailing 15 and 60 minutes of the day:
-- sqrt(Σ Δ²) over the window (changes before the market's first quoted minute do not exist).
with resampled as (
    select * from {{ ref('int_prices_resampled') }}
    where {{ on_run_day('trading_day') }}
),

odds as (
    select
        *,
        {{ log_odds('implied_probability') }} as log_odds
    from resampled
),

changes as (
    select
        *,
        log_odds - lag(log_odds) over (partition by market_ticker, trading_day order by minute) as d_log_odds
    from odds
)

select
    c.trading_day,
    c.market_ticker,
    m.cluster_id,
    c.minute,
    c.quote_ts,
    c.yes_bid,
    c.yes_ask,
    c.mid,
    c.microprice,
    c.spread,
    c.implied_probability,
    c.staleness_seconds,
    c.is_stale,
    c.log_odds,
    c.d_log_odds,
    sqrt(sum(c.d_log_odds * c.d_log_odds) over w15) as realized_vol_15m,
    count(c.d_log_odds) over w15 as n_changes_15m,
    sqrt(sum(c.d_log_odds * c.d_log_odds) over w60) as realized_vol_60m,
    count(c.d_log_odds) over w60 as n_changes_60m
from changes as c
left join {{ ref('int_markets_classified') }} as m on m.market_ticker = c.market_ticker
window
    w15 as (partition by c.market_ticker, c.trading_day order by c.minute rows between 14 preceding and current row),
    w60 as (partition by c.market_ticker, c.trading_day order by c.minute rows between 59 preceding and current row)
