{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns'
) }}
-- When each game cluster goes in play on a trading day.
-- Volume pickup: the cluster's trades per minute (all its markets) summed over the trailing 10 minutes,
-- against a baseline: the average 10-minute count over the hour before those 10 minutes. Play starts at
-- the first minute (with at least 70 minutes of quotes behind it) whose trailing count reaches
-- in_play_volume_ratio × baseline and at least 10 trades: pre-game volume ramps up slowly, the tip-off
-- surge does not. Without a pickup (no pre-game hour, or no surge) play starts at the expected time:
-- the earliest close of the cluster's markets (capped at its last quote) minus expected_game_minutes,
-- never before the first quote.
with panel as (
    select trading_day, cluster_id, market_ticker, minute, quote_ts
    from {{ ref('int_log_odds_changes_computed') }}
    where {{ on_run_day('trading_day') }} and cluster_id is not null
),

trades as (
    select t.trading_day, m.cluster_id, t.minute, sum(t.trade_count) as trades
    from {{ ref('int_trades_bucketed') }} as t
    join {{ ref('int_markets_classified') }} as m on m.market_ticker = t.market_ticker
    where {{ on_run_day('t.trading_day') }}
    group by t.trading_day, m.cluster_id, t.minute
),

spans as (
    select
        p.trading_day,
        p.cluster_id,
        min(p.minute) as first_minute,
        max(p.minute) as last_minute,
        max(p.quote_ts) as last_quote_ts,
        min(m.close_time) as first_close_time
    from panel as p
    left join {{ ref('int_markets_classified') }} as m on m.market_ticker = p.market_ticker
    group by p.trading_day, p.cluster_id
),

minutes as (
    select s.trading_day, s.cluster_id, s.first_minute, g.minute
    from spans as s
    cross join lateral generate_series(s.first_minute, s.last_minute, interval '1 minute') as g (minute)
),

trailing_counts as (
    select
        mi.trading_day,
        mi.cluster_id,
        mi.first_minute,
        mi.minute,
        sum(coalesce(t.trades, 0)) over (
            partition by mi.trading_day, mi.cluster_id order by mi.minute rows between 9 preceding and current row
        ) as trades_10m,
        sum(coalesce(t.trades, 0)) over (
            partition by mi.trading_day, mi.cluster_id order by mi.minute rows between 69 preceding and 10 preceding
        ) / 6.0 as baseline_10m
    from minutes as mi
    left join trades as t using (trading_day, cluster_id, minute)
),

pickup as (
    select distinct on (trading_day, cluster_id)
        trading_day, cluster_id, minute as pickup_minute, baseline_10m
    from trailing_counts
    where minute >= first_minute + interval '69 minutes'
      and trades_10m >= 10
      and trades_10m >= {{ feature_setting('in_play_volume_ratio') }} * greatest(baseline_10m, 1)
    order by trading_day, cluster_id, minute
)

select
    s.trading_day,
    s.cluster_id,
    s.first_minute,
    s.last_minute,
    p.baseline_10m,
    p.pickup_minute,
    coalesce(
        p.pickup_minute,
        greatest(
            s.first_minute,
            least(coalesce(s.first_close_time, s.last_quote_ts), s.last_quote_ts)
                - make_interval(mins => {{ feature_setting('expected_game_minutes') }})
        )
    ) as in_play_start,
    case when p.pickup_minute is not null then 'volume_pickup' else 'expected_start' end as in_play_method
from spans as s
left join pickup as p using (trading_day, cluster_id)
