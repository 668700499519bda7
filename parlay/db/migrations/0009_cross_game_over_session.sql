-- The real-data check quotes cross-game parlays over the session (hourly model snapshots), not only at
-- its end: one row per parlay and instant.
ALTER TABLE pricing.cross_game_parlays ADD COLUMN as_of timestamptz;
UPDATE pricing.cross_game_parlays SET as_of = 'infinity' WHERE as_of IS NULL;
ALTER TABLE pricing.cross_game_parlays ALTER COLUMN as_of SET NOT NULL;
ALTER TABLE pricing.cross_game_parlays DROP CONSTRAINT cross_game_parlays_pkey;
ALTER TABLE pricing.cross_game_parlays ADD PRIMARY KEY (trading_day, as_of, legs);
