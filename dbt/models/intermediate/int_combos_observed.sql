{{ config(materialized='view') }}
-- The combo observations features are built for: every combo trade (at its time, the ask the bettor
-- paid), and every listed combo once per trading day on which any of its legs is quoted, as of the
-- last quote of its legs that day (never after the combo's close).
with trades as (
    select
        trade_id as combo_row_id,
        'trade' as row_kind,
        combo_ticker,
        trade_id,
        ts,
        trading_day,
        yes_price as traded_price,
        contracts
    from {{ ref('stg_kalshi__combo_trades') }}
),

leg_days as (
    select market_ticker, trading_day, max(ts) as last_quote_ts
    from {{ ref('int_book_states_priced') }}
    where is_valid
    group by market_ticker, trading_day
),

listed as (
    select
        'listed:' || l.combo_ticker || ':' || d.trading_day::text as combo_row_id,
        'listed' as row_kind,
        l.combo_ticker,
        null::text as trade_id,
        least(max(d.last_quote_ts), min(c.close_time)) as ts,
        d.trading_day,
        null::numeric(8, 4) as traded_price,
        null::numeric(20, 2) as contracts
    from {{ ref('stg_kalshi__combo_legs') }} as l
    join {{ ref('stg_kalshi__combo_markets') }} as c on c.combo_ticker = l.combo_ticker
    join leg_days as d on d.market_ticker = l.market_ticker
    group by l.combo_ticker, d.trading_day
)

select * from trades
union all
select * from listed
