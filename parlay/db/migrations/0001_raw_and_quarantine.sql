-- Ingest layer: raw.* holds accepted records from every source, quarantine.* what was rejected.
-- Natural keys make every load idempotent (re-loading never duplicates rows).

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS dagster;

CREATE TABLE raw.capture_files (
    file_id        serial PRIMARY KEY,
    sha256         text NOT NULL UNIQUE,
    file_name      text NOT NULL,
    size_bytes     bigint NOT NULL,
    session        text,
    messages_read  bigint,
    loaded_snapshots bigint,
    loaded_deltas  bigint,
    loaded_trades  bigint,
    quarantined    bigint,
    loaded_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.series (
    series_ticker  text PRIMARY KEY,
    title          text,
    category       text,
    frequency      text,
    fee_type       text,
    fee_multiplier numeric,
    source         text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.events (
    event_ticker       text PRIMARY KEY,
    series_ticker      text,
    title              text,
    sub_title          text,
    category           text,
    mutually_exclusive boolean,
    strike_date        timestamptz,
    source             text NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.markets (
    ticker                text PRIMARY KEY,
    event_ticker          text,
    series_ticker         text,
    market_type           text,
    title                 text,
    yes_sub_title         text,
    no_sub_title          text,
    status                text,
    open_time             timestamptz,
    close_time            timestamptz,
    result                text CHECK (result IN ('yes', 'no')),
    strike_type           text,
    floor_strike          numeric,
    cap_strike            numeric,
    tick_size             numeric(8, 4),
    yes_bid               numeric(8, 4),
    yes_ask               numeric(8, 4),
    last_price            numeric(8, 4),
    volume                numeric(20, 2),
    open_interest         numeric(20, 2),
    mve_collection_ticker text,
    source                text NOT NULL,
    loaded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX markets_event_idx ON raw.markets (event_ticker);

-- Exchange (or source) snapshots: full bid ladders, prices ascending.
CREATE TABLE raw.orderbook_snapshots (
    market_ticker text NOT NULL,
    ts            timestamptz NOT NULL,
    sid           integer NOT NULL,
    seq           bigint NOT NULL,
    trading_day   date NOT NULL,
    yes_prices    numeric(8, 4)[] NOT NULL,
    yes_sizes     numeric(20, 2)[] NOT NULL,
    no_prices     numeric(8, 4)[] NOT NULL,
    no_sizes      numeric(20, 2)[] NOT NULL,
    source        text NOT NULL,
    file_id       integer,  -- raw.capture_files.file_id (no FK: bulk loads stay fast)
    PRIMARY KEY (market_ticker, sid, seq, ts)
);
CREATE INDEX orderbook_snapshots_day_idx ON raw.orderbook_snapshots (trading_day);

CREATE TABLE raw.orderbook_deltas (
    market_ticker text NOT NULL,
    ts            timestamptz NOT NULL,
    sid           integer NOT NULL,
    seq           bigint NOT NULL,
    trading_day   date NOT NULL,
    side          text NOT NULL CHECK (side IN ('yes', 'no')),
    price         numeric(8, 4) NOT NULL,
    delta         numeric(20, 2) NOT NULL,
    source        text NOT NULL,
    file_id       integer,  -- raw.capture_files.file_id (no FK: bulk loads stay fast)
    PRIMARY KEY (market_ticker, sid, seq, ts)
);
CREATE INDEX orderbook_deltas_day_idx ON raw.orderbook_deltas (trading_day);

-- The rebuilt book after every snapshot or delta: top of book and depth.
CREATE TABLE raw.orderbook_tops (
    market_ticker text NOT NULL,
    ts            timestamptz NOT NULL,
    sid           integer NOT NULL,
    seq           bigint NOT NULL,
    trading_day   date NOT NULL,
    event_kind    text NOT NULL CHECK (event_kind IN ('snapshot', 'delta')),
    yes_bid       numeric(8, 4),
    yes_bid_size  numeric(20, 2),
    no_bid        numeric(8, 4),
    no_bid_size   numeric(20, 2),
    yes_depth_5c  numeric(20, 2) NOT NULL,
    no_depth_5c   numeric(20, 2) NOT NULL,
    yes_depth     numeric(20, 2) NOT NULL,
    no_depth      numeric(20, 2) NOT NULL,
    yes_levels    integer NOT NULL,
    no_levels     integer NOT NULL,
    reliable      boolean NOT NULL,
    crossed       boolean NOT NULL,
    source        text NOT NULL,
    file_id       integer,
    PRIMARY KEY (market_ticker, sid, seq, ts)
);
CREATE INDEX orderbook_tops_day_idx ON raw.orderbook_tops (trading_day, market_ticker, ts);

CREATE TABLE raw.trades (
    trade_id      text PRIMARY KEY,
    market_ticker text NOT NULL,
    ts            timestamptz NOT NULL,
    trading_day   date NOT NULL,
    yes_price     numeric(8, 4) NOT NULL,
    no_price      numeric(8, 4) NOT NULL,
    count         numeric(20, 2) NOT NULL,
    taker_side    text CHECK (taker_side IN ('yes', 'no')),
    sid           integer NOT NULL,
    seq           bigint NOT NULL,
    source        text NOT NULL,
    file_id       integer  -- raw.capture_files.file_id
);
CREATE INDEX trades_day_idx ON raw.trades (trading_day, market_ticker, ts);

CREATE TABLE raw.candles (
    market_ticker  text NOT NULL,
    period_minutes integer NOT NULL,
    end_ts         timestamptz NOT NULL,
    trading_day    date NOT NULL,
    yes_bid_open   numeric(8, 4),
    yes_bid_high   numeric(8, 4),
    yes_bid_low    numeric(8, 4),
    yes_bid_close  numeric(8, 4),
    yes_ask_open   numeric(8, 4),
    yes_ask_high   numeric(8, 4),
    yes_ask_low    numeric(8, 4),
    yes_ask_close  numeric(8, 4),
    price_open     numeric(8, 4),
    price_high     numeric(8, 4),
    price_low      numeric(8, 4),
    price_close    numeric(8, 4),
    volume         numeric(20, 2),
    open_interest  numeric(20, 2),
    origin         text NOT NULL CHECK (origin IN ('exchange', 'built')),
    source         text NOT NULL,
    PRIMARY KEY (market_ticker, period_minutes, end_ts)
);
CREATE INDEX candles_day_idx ON raw.candles (trading_day);

CREATE TABLE raw.combo_markets (
    ticker            text PRIMARY KEY,
    collection_ticker text,
    event_ticker      text,
    title             text,
    status            text,
    close_time        timestamptz,
    result            text CHECK (result IN ('yes', 'no')),
    n_legs            integer NOT NULL,
    source            text NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE raw.combo_legs (
    combo_ticker  text NOT NULL REFERENCES raw.combo_markets (ticker) ON DELETE CASCADE,
    leg_index     integer NOT NULL,
    event_ticker  text,
    market_ticker text NOT NULL,
    side          text NOT NULL CHECK (side IN ('yes', 'no')),
    PRIMARY KEY (combo_ticker, leg_index)
);
CREATE INDEX combo_legs_market_idx ON raw.combo_legs (market_ticker);

CREATE TABLE raw.combo_trades (
    trade_id     text PRIMARY KEY,
    combo_ticker text NOT NULL,
    ts           timestamptz NOT NULL,
    trading_day  date NOT NULL,
    yes_price    numeric(8, 4) NOT NULL,
    no_price     numeric(8, 4) NOT NULL,
    count        numeric(20, 2) NOT NULL,
    taker_side   text CHECK (taker_side IN ('yes', 'no')),
    source       text NOT NULL
);
CREATE INDEX combo_trades_day_idx ON raw.combo_trades (trading_day, combo_ticker);

CREATE TABLE raw.settlements (
    market_ticker    text PRIMARY KEY,
    result           text NOT NULL CHECK (result IN ('yes', 'no')),
    settled_ts       timestamptz NOT NULL,
    trading_day      date NOT NULL,
    settlement_value numeric(8, 4) NOT NULL,
    method           text NOT NULL,
    source           text NOT NULL
);

-- Every rejected input record, verbatim, with the rule it broke.
CREATE TABLE quarantine.rejected_records (
    id             bigserial PRIMARY KEY,
    source         text NOT NULL,
    locator        text NOT NULL,
    position       bigint NOT NULL,
    reason         text NOT NULL,
    detail         text NOT NULL,
    payload        text NOT NULL,
    market_ticker  text,
    trading_day    date,
    file_id        integer,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, locator, position, reason)
);
CREATE INDEX rejected_records_reason_idx ON quarantine.rejected_records (reason);

-- Sequence gaps found in WebSocket subscriptions, and proven book inconsistencies.
CREATE TABLE quarantine.sequence_gaps (
    session       text NOT NULL,
    sid           integer NOT NULL,
    first_missing bigint NOT NULL,
    last_missing  bigint NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('lost', 'subscription_ack', 'partial_session', 'book_inconsistent')),
    ts            timestamptz,
    market_ticker text NOT NULL DEFAULT '',
    detail        text NOT NULL,
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session, sid, first_missing, kind, market_ticker)
);
