{{ config(
    pre_hook='set local jit = off',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='trading_day',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['market_ticker', 'ts']}, {'columns': ['trading_day']}],
    post_hook='analyze {{ this }}'
) }}
-- Implied probabilities per reliable rebuilt book state (read through raw.reliable_orderbook_tops: states
-- after a gap or a reordering and crossed states never get here; `is_valid` adds: quoted on both sides;
-- `implied_probability` is the mid clipped into (0, 1)).
select
    b.market_ticker,
    m.cluster_id,
    b.ts,
    b.trading_day,
    b.yes_bid,
    b.yes_ask,
    b.mid,
    b.microprice,
    b.spread,
    b.depth_top_yes,
    b.depth_top_no,
    b.depth_5c_yes,
    b.depth_5c_no,
    b.reliable,
    b.crossed,
    b.implied_probability,
    b.is_valid
from {{ ref('int_book_states_priced') }} as b
left join {{ ref('int_markets_classified') }} as m on m.market_ticker = b.market_ticker
where {{ on_run_day('b.trading_day') }}
