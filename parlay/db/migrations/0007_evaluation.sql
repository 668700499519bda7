-- Results of the paper's synthetic experiments (group `evaluation`): one run per experiment and
-- configuration, its table as JSON rows, its plot in object storage.

CREATE SCHEMA IF NOT EXISTS evaluation;

CREATE TABLE evaluation.experiment_runs (
    run_id      bigserial PRIMARY KEY,
    name        text NOT NULL,
    mode        text NOT NULL CHECK (mode IN ('quick', 'full')),
    seed        integer NOT NULL,
    runs        integer NOT NULL,
    rounds      integer NOT NULL,
    config      jsonb NOT NULL,
    checks      jsonb NOT NULL,
    notes       text NOT NULL,
    plot_url    text,
    seconds     double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experiment_runs_name_idx ON evaluation.experiment_runs (name, created_at DESC);

CREATE TABLE evaluation.experiment_rows (
    run_id    bigint NOT NULL REFERENCES evaluation.experiment_runs (run_id) ON DELETE CASCADE,
    row_index integer NOT NULL,
    data      jsonb NOT NULL,
    PRIMARY KEY (run_id, row_index)
);
