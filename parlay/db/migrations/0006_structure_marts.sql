-- The structural layer's marts (written by Python per trading day, read by dbt through the source `marts`).
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.market_families (
    trading_day                date NOT NULL,
    family_id                  text NOT NULL,
    cluster_id                 text NOT NULL,
    family_type                text NOT NULL,
    detected_by                text NOT NULL,
    axis_id                    text,
    n_markets                  integer NOT NULL,
    exhaustive                 boolean,
    market_ticker              text NOT NULL,
    member_index               integer NOT NULL,
    price_minutes              integer,
    price_sum_median           double precision,
    price_abs_deviation_median double precision,
    half_spread_sum_median     double precision,
    price_consistent           boolean,
    price_violation_share      double precision,
    PRIMARY KEY (trading_day, family_id, market_ticker)
);
CREATE INDEX IF NOT EXISTS market_families_market_idx ON marts.market_families (market_ticker);

CREATE TABLE IF NOT EXISTS marts.binary_variables (
    trading_day       date NOT NULL,
    market_ticker     text NOT NULL,
    cluster_id        text NOT NULL,
    event_ticker      text,
    axis_id           text NOT NULL,
    axis_kind         text NOT NULL,
    quantity          text NOT NULL,
    n_cells           integer NOT NULL,
    cell_lo           integer NOT NULL,
    cell_hi           integer NOT NULL,
    yes_lower         double precision,
    yes_upper         double precision,
    n_literals        integer NOT NULL,
    orientation       integer NOT NULL,
    variable_id       text,
    variable_index    integer,
    literals          jsonb NOT NULL,
    expression        text NOT NULL,
    complement_ticker text,
    defines_variable  boolean NOT NULL,
    PRIMARY KEY (trading_day, market_ticker)
);

CREATE TABLE IF NOT EXISTS marts.combo_structure (
    trading_day       date NOT NULL,
    combo_ticker      text NOT NULL,
    n_legs            integer NOT NULL,
    legs              jsonb NOT NULL,
    canonical_legs    jsonb NOT NULL,
    n_clusters        integer NOT NULL,
    clusters          text[] NOT NULL,
    n_axes            integer NOT NULL,
    mapped            boolean NOT NULL,
    impossible        boolean NOT NULL,
    impossible_reason text,
    impossible_detail text,
    PRIMARY KEY (trading_day, combo_ticker)
);

CREATE TABLE IF NOT EXISTS marts.combo_targets (
    trading_day         date NOT NULL,
    trade_id            text PRIMARY KEY,
    combo_ticker        text NOT NULL,
    ts                  timestamptz NOT NULL,
    contracts           double precision NOT NULL,
    n_legs              integer NOT NULL,
    observed_ask        double precision NOT NULL,
    fee_type            text,
    fee_multiplier      double precision,
    fee_estimate        double precision NOT NULL,
    observed_net_of_fee double precision NOT NULL,
    canonical_yes_legs  text[] NOT NULL,
    canonical_no_legs   text[] NOT NULL,
    n_complemented      integer NOT NULL,
    target_legs         text[] NOT NULL,
    n_no_legs           integer NOT NULL,
    markup_coefficient  integer NOT NULL,
    n_terms             integer NOT NULL,
    n_implied_terms     integer NOT NULL,
    terms               jsonb NOT NULL,
    exact               boolean NOT NULL,
    target              double precision,
    target_net_of_fees  double precision,
    target_clipped      double precision,
    target_in_range     boolean NOT NULL,
    impossible          boolean NOT NULL,
    impossible_reason   text,
    use_for_learning    boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS combo_targets_day_idx ON marts.combo_targets (trading_day, combo_ticker);
