select
    trade_id,
    market_ticker,
    ts,
    trading_day,
    yes_price,
    no_price,
    count as contracts,
    taker_side,
    source
from {{ source('raw', 'trades') }}
