-- An equity mark describes one instant of the trading day: marked_at is that instant (the replayed or
-- simulated time in a replay, the wall clock live), so it is always given and has no default. written_at
-- keeps when the row was written; trading_day the day the mark belongs to.
ALTER TABLE ledger.equity_marks ALTER COLUMN marked_at DROP DEFAULT;
ALTER TABLE ledger.equity_marks ADD COLUMN written_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE ledger.equity_marks ADD COLUMN trading_day date;
CREATE INDEX equity_marks_by_time ON ledger.equity_marks (marked_at DESC, mark_id DESC);
CREATE INDEX equity_marks_by_day ON ledger.equity_marks (trading_day, marked_at);
