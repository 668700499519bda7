select
    series_ticker,
    title as series_title,
    category,
    frequency,
    fee_type,
    coalesce(fee_multiplier, 1) as fee_multiplier,
    source
from {{ source('raw', 'series') }}
