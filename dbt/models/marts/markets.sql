-- One row per base market: cluster, family, strikes, schedule, settlement and series fees.
select
    market_ticker,
    cluster_id,
    event_ticker,
    series_ticker,
    market_family,
    market_subfamily,
    strike_type,
    floor_strike,
    cap_strike,
    open_time,
    close_time,
    status,
    result,
    fee_type,
    fee_multiplier,
    yes_sub_title,
    no_sub_title,
    title,
    mutually_exclusive,
    tick_size
from {{ ref('int_markets_classified') }}
