select
    market_ticker,
    result,
    settled_ts,
    trading_day,
    settlement_value,
    method,
    source
from {{ source('raw', 'settlements') }}
