-- Reliable rebuilt book states (end of each second with a change, and after each snapshot), through the
-- view raw.reliable_orderbook_tops: the single definition of a usable book state (reliable, not crossed).
-- Bids only: the best YES ask is 1 - best NO bid.
select
    market_ticker,
    ts,
    sid,
    seq,
    trading_day,
    event_kind,
    yes_bid,
    yes_bid_size,
    no_bid,
    no_bid_size,
    1 - no_bid as yes_ask,
    no_bid_size as yes_ask_size,
    yes_depth_5c,
    no_depth_5c,
    yes_depth,
    no_depth,
    yes_levels,
    no_levels,
    reliable,
    crossed,
    rebuilt_from,
    source
from {{ source('raw', 'orderbook_tops') }}
