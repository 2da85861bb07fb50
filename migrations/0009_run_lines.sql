-- Every input row of a run can be told back in order, with its number and outcome: run_items holds the
-- first line of each number and run_rejects the invalid rows; the later rows of a number that was
-- already in the run (duplicates) are kept here, only their line and number, so a file without
-- duplicates costs nothing more. `export` reads the three in line order.
CREATE TABLE run_duplicates (
  run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  line          bigint NOT NULL,
  cust_space_id text   NOT NULL,
  phone_number  text   NOT NULL,
  PRIMARY KEY (run_id, line)
);

-- The input a run was imported from, so `export --input FILE` can put the file's own cells back beside
-- each row, and refuse a file that is not that input: the SHA-256 of its bytes (stored once the whole
-- input was read), the file's absolute path (NULL for standard input) and the reading options that
-- decide where its records and lines are (delimiter, encoding) when the import was given them.
ALTER TABLE runs ADD COLUMN input_sha256 text;
ALTER TABLE runs ADD COLUMN input_path text;
ALTER TABLE runs ADD COLUMN input_options jsonb;
