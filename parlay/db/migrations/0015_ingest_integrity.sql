-- Ingest integrity: every name a capture's content arrived under, truncated files, quarantine rows
-- keyed by the file's identity, and the one definition of a reliable book state.

-- Every name (and path) a capture file's content was seen under. The content is loaded once, under
-- the name in raw.capture_files; any other name is recorded here with duplicate_of set.
CREATE TABLE raw.capture_file_names (
    file_id      integer NOT NULL REFERENCES raw.capture_files (file_id) ON DELETE CASCADE,
    file_name    text NOT NULL,
    path         text NOT NULL,
    duplicate_of text,  -- the file name whose load holds this content; NULL for the name that was loaded
    seen_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_id, path)
);
INSERT INTO raw.capture_file_names (file_id, file_name, path)
SELECT file_id, file_name, file_name FROM raw.capture_files;

-- A file that ends early (truncated gzip) loads its readable prefix; where it ended is kept.
ALTER TABLE raw.capture_files
    ADD COLUMN truncated_at_byte bigint,  -- compressed byte offset where reading stopped
    ADD COLUMN read_error text;           -- why reading stopped there

-- Quarantine rows of a capture file are keyed by the file's identity (its sha256), not its name:
-- two files with the same name in different folders keep their own rows.
ALTER TABLE quarantine.rejected_records ADD COLUMN unit_key text NOT NULL DEFAULT '';
UPDATE quarantine.rejected_records r SET unit_key = f.sha256
FROM raw.capture_files f WHERE r.file_id = f.file_id;
ALTER TABLE quarantine.rejected_records
    DROP CONSTRAINT rejected_records_source_locator_position_reason_key;
ALTER TABLE quarantine.rejected_records
    ADD CONSTRAINT rejected_records_unit_position_key UNIQUE (source, unit_key, locator, position, reason);

-- The one definition of a book state readers may use: rebuilt from an unbroken sequence since the last
-- snapshot (reliable) and not crossed. dbt's staging model and the quote service both read this view.
CREATE VIEW raw.reliable_orderbook_tops AS
SELECT *
FROM raw.orderbook_tops
WHERE reliable AND NOT crossed;
