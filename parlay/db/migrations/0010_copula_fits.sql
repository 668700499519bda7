-- The Gaussian copula member, fitted per game cluster and day from the features (pair correlations of
-- log-odds changes): one row per fit; the correlation matrix is an artifact in object storage.
CREATE TABLE pricing.copula_fits (
    copula_version text PRIMARY KEY,
    trading_day    date NOT NULL,
    cluster_id     text NOT NULL,
    n_variables    integer NOT NULL,
    pairs_used     integer NOT NULL,          -- variable pairs with an estimated correlation
    repaired       boolean NOT NULL,          -- projected to the nearest correlation matrix
    mean_abs_rho   double precision NOT NULL,
    artifact_url   text NOT NULL,
    fitted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX copula_fits_day_idx ON pricing.copula_fits (trading_day, cluster_id, fitted_at DESC);
