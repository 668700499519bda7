{{ config(materialized='view') }}
-- Base-market trades per market and minute: contracts, trade count, volume-weighted YES price.
select
    trading_day,
    market_ticker,
    date_trunc('minute', ts) as minute,
    sum(contracts)::numeric(20, 2) as volume,
    count(*) as trade_count,
    (sum(yes_price * contracts) / nullif(sum(contracts), 0))::float8 as vwap_yes
from {{ ref('stg_kalshi__trades') }}
group by trading_day, market_ticker, date_trunc('minute', ts)
