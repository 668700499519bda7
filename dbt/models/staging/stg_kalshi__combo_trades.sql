select
    trade_id,
    combo_ticker,
    ts,
    trading_day,
    yes_price,
    no_price,
    count as contracts,
    taker_side,
    source
from {{ source('raw', 'combo_trades') }}
