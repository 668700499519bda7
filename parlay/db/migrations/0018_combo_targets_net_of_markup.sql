-- The learning target of a combo trade net of the estimated markup (fee estimate + combo spread), and why a
-- row is not learned from (impossible, missing price, out of range, independence-filled lower-order terms).
ALTER TABLE marts.combo_targets ADD COLUMN IF NOT EXISTS markup_estimate double precision;
ALTER TABLE marts.combo_targets ADD COLUMN IF NOT EXISTS target_net_of_markup double precision;
ALTER TABLE marts.combo_targets ADD COLUMN IF NOT EXISTS learning_excluded_reason text;
