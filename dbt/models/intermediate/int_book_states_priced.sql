{{ config(materialized='view') }}
-- Every rebuilt book state priced: bid, ask (1 − best NO bid), mid, size-weighted microprice, spread,
-- depth and the implied probability (mid clipped into (0, 1)). A state is `is_valid` when it is
-- reliable, not crossed and quoted on both sides; only valid states feed the panels.
-- Derived prices are computed exactly, then stored as float8 (bids and asks stay exact numerics).
-- A view: consumers filter by trading_day and the filter reaches raw.orderbook_tops' index.
with tops as (
    select * from {{ ref('stg_kalshi__orderbook_tops') }}
),

priced as (
    select
        market_ticker,
        ts,
        trading_day,
        sid,
        seq,
        event_kind,
        yes_bid,
        yes_ask,
        yes_bid_size,
        yes_ask_size,
        ((yes_bid + yes_ask) / 2)::float8 as mid,
        case
            when yes_bid_size + yes_ask_size > 0
                then ((yes_bid * yes_ask_size + yes_ask * yes_bid_size) / (yes_bid_size + yes_ask_size))::float8
        end as microprice,
        (yes_ask - yes_bid)::float8 as spread,
        yes_bid_size as depth_top_yes,
        no_bid_size as depth_top_no,
        yes_depth_5c as depth_5c_yes,
        no_depth_5c as depth_5c_no,
        yes_depth as depth_yes,
        no_depth as depth_no,
        reliable,
        crossed
    from tops
)

select
    *,
    case when mid is not null then {{ clip_probability('mid') }} end as implied_probability,
    (reliable and not crossed and mid is not null) as is_valid
from priced
