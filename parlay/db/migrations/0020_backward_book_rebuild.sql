-- Book states rebuilt backward from a later snapshot (captures that begin mid-stream) say so:
-- 'closing_snapshot' (from the empty book that ends a capture) or 'later_snapshot' (from a snapshot
-- with ladders). NULL for states rebuilt forward from a snapshot.
ALTER TABLE raw.orderbook_tops ADD COLUMN rebuilt_from text
    CHECK (rebuilt_from IN ('closing_snapshot', 'later_snapshot'));

-- Messages of a capture file whose trading day is not the day being loaded (a game that ends after
-- midnight in New York): the day's accounting check counts them instead of expecting their rows yet.
ALTER TABLE raw.capture_files ADD COLUMN outside_day bigint;
