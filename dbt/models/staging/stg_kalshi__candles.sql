select
    market_ticker,
    period_minutes,
    end_ts,
    end_ts - make_interval(mins => period_minutes) as start_ts,
    trading_day,
    yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close,
    yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close,
    price_open, price_high, price_low, price_close,
    volume,
    open_interest,
    origin,
    source
from {{ source('raw', 'candles') }}
