select
    market_ticker,
    ts,
    sid,
    seq,
    trading_day,
    yes_prices,
    yes_sizes,
    no_prices,
    no_sizes,
    cardinality(yes_prices) as yes_levels,
    cardinality(no_prices) as no_levels,
    source
from {{ source('raw', 'orderbook_snapshots') }}
