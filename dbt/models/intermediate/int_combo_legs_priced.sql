{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['combo_row_id']}, {'columns': ['trading_day']}],
    post_hook='analyze {{ this }}'
) }}
-- Every leg of every combo observation, priced as of the observation: the leg market's last valid book
-- state at or before it (that day, else the last of the day before), the side-adjusted probability
-- p_leg (YES: the implied probability, NO: one minus it), the quote's age, and the leg's realized
-- volatility in the last complete minute before the observation against its median that day.
with observed as (
    select * from {{ ref('int_combos_observed') }}
    where {{ on_run_day('trading_day') }}
),

legs as (
    select o.*, l.leg_index, l.market_ticker, l.side
    from observed as o
    join {{ ref('stg_kalshi__combo_legs') }} as l on l.combo_ticker = o.combo_ticker
),

-- As-of join without per-row lookups: legs and valid book states of the same market in one time
-- order (states first at equal times); each leg takes the last state before it. States of the day
-- before seed the carry (its last state per market; every state when the run covers every day).
book as (
    select market_ticker, ts, yes_bid, yes_ask, mid, implied_probability
    from {{ ref('int_book_states_priced') }}
    where is_valid and {{ on_run_day('trading_day') }}
      and market_ticker in (select market_ticker from legs)
{%- if run_trading_day() is not none %}
    union all
    select * from (
        select distinct on (market_ticker) market_ticker, ts, yes_bid, yes_ask, mid, implied_probability
        from {{ ref('int_book_states_priced') }}
        where is_valid and trading_day = {{ run_trading_day() }} - 1
          and market_ticker in (select market_ticker from legs)
        order by market_ticker, ts desc
    ) as carried
{%- endif %}
),

timeline as (
    select market_ticker, ts, 0 as kind, null::text as combo_row_id, null::int as leg_index,
           ts as quote_ts, yes_bid, yes_ask, mid, implied_probability
    from book
    union all
    select market_ticker, ts, 1 as kind, combo_row_id, leg_index,
           null::timestamptz, null::numeric, null::numeric, null::numeric, null::float8
    from legs
),

grouped as (
    select
        *,
        count(quote_ts) over (partition by market_ticker order by ts, kind rows unbounded preceding) as carry_group
    from timeline
),

asof as (
    select
        combo_row_id,
        leg_index,
        first_value(quote_ts) over w as quote_ts,
        first_value(yes_bid) over w as yes_bid,
        first_value(yes_ask) over w as yes_ask,
        first_value(mid) over w as mid,
        first_value(implied_probability) over w as p_yes,
        kind
    from grouped
    window w as (partition by market_ticker, carry_group order by ts, kind)
),

quoted as (
    select lg.*, a.quote_ts, a.yes_bid, a.yes_ask, a.mid, a.p_yes
    from legs as lg
    left join asof as a on a.kind = 1 and a.combo_row_id = lg.combo_row_id and a.leg_index = lg.leg_index
),

vol_median as (
    select market_ticker, trading_day, percentile_cont(0.5) within group (order by realized_vol_15m) as median_vol_15m
    from {{ ref('int_log_odds_changes_computed') }}
    where {{ on_run_day('trading_day') }} and realized_vol_15m is not null
    group by market_ticker, trading_day
)

select
    q.combo_row_id,
    q.row_kind,
    q.combo_ticker,
    q.trade_id,
    q.ts,
    q.trading_day,
    q.traded_price,
    q.contracts,
    q.leg_index,
    q.market_ticker,
    q.side,
    m.cluster_id,
    m.close_time,
    m.market_family,
    q.quote_ts,
    q.yes_bid,
    q.yes_ask,
    q.mid,
    q.p_yes,
    case q.side when 'yes' then q.p_yes else 1 - q.p_yes end as p_leg,
    extract(epoch from q.ts - q.quote_ts)::float8 as staleness_seconds,
    v.realized_vol_15m,
    vm.median_vol_15m
from quoted as q
left join {{ ref('int_markets_classified') }} as m on m.market_ticker = q.market_ticker
left join {{ ref('int_log_odds_changes_computed') }} as v
    on v.market_ticker = q.market_ticker
    and v.minute = date_trunc('minute', q.ts) - interval '1 minute'
left join vol_median as vm on vm.market_ticker = q.market_ticker and vm.trading_day = q.trading_day
