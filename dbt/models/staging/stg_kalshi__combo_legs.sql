select
    combo_ticker,
    leg_index,
    event_ticker,
    market_ticker,
    side
from {{ source('raw', 'combo_legs') }}
