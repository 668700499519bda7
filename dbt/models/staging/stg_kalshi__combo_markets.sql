select
    ticker as combo_ticker,
    collection_ticker,
    event_ticker,
    title as combo_title,
    status,
    close_time,
    result,
    n_legs,
    source
from {{ source('raw', 'combo_markets') }}
