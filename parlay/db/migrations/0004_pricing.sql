-- Fitted pricing models: one row per fitted cluster model, classifier and ensemble snapshot.
-- Parameters live in object storage (PARLAY_STORAGE_URL) as artifacts; these rows say what they are,
-- how they were fitted and which snapshot quotes load.
CREATE SCHEMA IF NOT EXISTS pricing;

CREATE TABLE pricing.cluster_models (
    model_version text PRIMARY KEY,          -- content hash of the parameters and the market mapping
    trading_day   date NOT NULL,
    cluster_id    text NOT NULL,
    n_variables   integer NOT NULL CHECK (n_variables > 0),
    n_couplings   integer NOT NULL,
    variables     jsonb NOT NULL,            -- variable ids in index order
    markets       jsonb NOT NULL,            -- [{market_ticker, literals: [[index, value]], variable_ids, ...info}]
    artifact_url  text NOT NULL,             -- .npz with h, J and the copula correlation
    converged     boolean NOT NULL,
    metrics       jsonb NOT NULL DEFAULT '{}'::jsonb,
    fit_config    jsonb NOT NULL DEFAULT '{}'::jsonb,
    notes         jsonb NOT NULL DEFAULT '[]'::jsonb,
    fitted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cluster_models_day_idx ON pricing.cluster_models (trading_day, cluster_id, fitted_at DESC);

CREATE TABLE pricing.classifiers (
    classifier_version text PRIMARY KEY,
    trading_day   date NOT NULL,
    trained       boolean NOT NULL,
    reason        text,
    metrics       jsonb NOT NULL DEFAULT '{}'::jsonb,
    artifact_url  text NOT NULL,
    fitted_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pricing.ensembles (
    ensemble_version   text PRIMARY KEY,
    trading_day        date NOT NULL,
    cluster_versions   jsonb NOT NULL,       -- {cluster_id: model_version}
    classifier_version text REFERENCES pricing.classifiers (classifier_version),
    config             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ensembles_day_idx ON pricing.ensembles (trading_day, created_at DESC);

-- Model quality on held-back settled parlays, per ensemble snapshot and member.
CREATE TABLE pricing.calibration (
    ensemble_version text NOT NULL REFERENCES pricing.ensembles (ensemble_version),
    member           text NOT NULL,
    n_parlays        integer NOT NULL,
    brier            double precision,
    log_loss         double precision,
    PRIMARY KEY (ensemble_version, member)
);

-- The real-data check: cross-game moneyline parlays priced by an ensemble snapshot.
CREATE TABLE pricing.cross_game_parlays (
    trading_day      date NOT NULL,
    ensemble_version text NOT NULL REFERENCES pricing.ensembles (ensemble_version),
    legs             text NOT NULL,
    n_legs           integer NOT NULL,
    price            double precision NOT NULL,
    independence     double precision NOT NULL,   -- product of the model's marginals
    independence_market_mids double precision,    -- product of the markets' latest mids
    frechet_lower    double precision NOT NULL,
    frechet_upper    double precision NOT NULL,
    uncertainty      double precision NOT NULL,
    PRIMARY KEY (trading_day, legs)
);
