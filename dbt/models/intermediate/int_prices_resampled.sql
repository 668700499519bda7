{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['market_ticker', 'minute']}, {'columns': ['trading_day']}],
    post_hook='analyze {{ this }}'
) }}
-- One row per market and minute of its active span on a trading day (first to last valid book state
-- of the day; from the day's first minute when a state carries in from the day before). Values are the
-- last valid state at or before the end of the minute, forward-filled; `staleness_seconds` is the age
-- of that state at the end of the minute.
{%- set day = run_trading_day() %}
with states as (
    select market_ticker, trading_day, ts, yes_bid, yes_ask, mid, microprice, spread, implied_probability
    from {{ ref('int_book_states_priced') }}
    where is_valid and {{ on_run_day('trading_day') }}
),

{% if day is not none %}
-- the last valid state of the day before, for markets quoted on the run's day
carried as (
    select distinct on (b.market_ticker)
        b.market_ticker, {{ day }} as trading_day, b.ts, b.yes_bid, b.yes_ask, b.mid, b.microprice, b.spread,
        b.implied_probability
    from {{ ref('int_book_states_priced') }} as b
    where b.is_valid and b.trading_day = {{ day }} - 1
      and b.market_ticker in (select distinct market_ticker from states)
    order by b.market_ticker, b.ts desc
),
{% else %}
-- every day is processed: carry each market's last state of one day into the next
carried as (
    select distinct on (market_ticker, trading_day)
        market_ticker, trading_day + 1 as trading_day, ts, yes_bid, yes_ask, mid, microprice, spread,
        implied_probability
    from states
    order by market_ticker, trading_day, ts desc
),
{% endif %}

bounds as (
    select
        trading_day,
        market_ticker,
        min(date_trunc('minute', ts)) as first_minute,
        max(date_trunc('minute', ts)) as last_minute
    from states
    group by trading_day, market_ticker
),

spans as (
    select
        b.trading_day,
        b.market_ticker,
        case
            when c.ts is not null
                then (b.trading_day::timestamp at time zone 'America/New_York')
            else b.first_minute
        end as span_start,
        b.last_minute as span_end
    from bounds as b
    left join carried as c on c.market_ticker = b.market_ticker and c.trading_day = b.trading_day
),

all_states as (
    select * from states
    union all
    select c.*
    from carried as c
    join spans as s on s.market_ticker = c.market_ticker and s.trading_day = c.trading_day
),

last_in_minute as (
    select distinct on (market_ticker, trading_day, minute)
        market_ticker,
        trading_day,
        greatest(date_trunc('minute', ts), s.span_start) as minute,
        ts, yes_bid, yes_ask, mid, microprice, spread, implied_probability
    from all_states
    join spans as s using (market_ticker, trading_day)
    order by market_ticker, trading_day, minute, ts desc
),

grid as (
    select s.trading_day, s.market_ticker, g.minute
    from spans as s
    cross join lateral generate_series(s.span_start, s.span_end, interval '1 minute') as g (minute)
),

marked as (
    select
        g.trading_day,
        g.market_ticker,
        g.minute,
        l.ts, l.yes_bid, l.yes_ask, l.mid, l.microprice, l.spread, l.implied_probability,
        count(l.ts) over (partition by g.market_ticker, g.trading_day order by g.minute) as fill_group
    from grid as g
    left join last_in_minute as l
        on l.market_ticker = g.market_ticker and l.trading_day = g.trading_day and l.minute = g.minute
),

filled as (
    select
        trading_day,
        market_ticker,
        minute,
        first_value(ts) over w as quote_ts,
        first_value(yes_bid) over w as yes_bid,
        first_value(yes_ask) over w as yes_ask,
        first_value(mid) over w as mid,
        first_value(microprice) over w as microprice,
        first_value(spread) over w as spread,
        first_value(implied_probability) over w as implied_probability
    from marked
    window w as (partition by market_ticker, trading_day, fill_group order by minute)
)

select
    trading_day,
    market_ticker,
    minute,
    quote_ts,
    yes_bid,
    yes_ask,
    mid,
    microprice,
    spread,
    implied_probability,
    extract(epoch from (minute + interval '1 minute') - quote_ts)::float8 as staleness_seconds,
    extract(epoch from (minute + interval '1 minute') - quote_ts) > {{ feature_setting('stale_after_seconds') }}
        as is_stale
from filled
where quote_ts is not null
