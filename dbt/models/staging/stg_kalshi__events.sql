select
    event_ticker,
    series_ticker,
    title as event_title,
    sub_title as event_sub_title,
    category,
    mutually_exclusive,
    strike_date,
    source
from {{ source('raw', 'events') }}
