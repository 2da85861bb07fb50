-- run_items keeps its link to runs, checked once per statement instead of once per row.
--
-- A declarative foreign key fires a trigger for every inserted item, and each one queries and locks the
-- item's run (FOR KEY SHARE): an import inserts its items by the thousand for one run, and those checks
-- took about 40% of PostgreSQL's time in it. The same guarantees are kept by statement triggers over
-- transition tables: an insert locks the runs it names, once each, as a foreign key would, and fails
-- with foreign_key_violation (23503) if one is missing; deleting runs deletes their items, as ON DELETE
-- CASCADE did; an item cannot move to another run. The functions keep the search_path they are created
-- with (the ledger's schema first), so the triggers find `runs` and `run_items` from any session.
ALTER TABLE run_items DROP CONSTRAINT run_items_run_id_fkey;

CREATE FUNCTION run_items_check_run() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  runs_named bigint[];
  missing bigint;
BEGIN
  -- Usually one run per statement: its id is locked once, not once per item.
  SELECT array_agg(DISTINCT run_id) INTO runs_named FROM new_items;
  PERFORM 1 FROM runs WHERE id = ANY (runs_named) FOR KEY SHARE;
  SELECT n INTO missing FROM unnest(runs_named) n WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = n) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "run_items" violates foreign key constraint "run_items_run_id_fkey"'
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('Key (run_id)=(%s) is not present in table "runs".', missing),
            TABLE = 'run_items',
            CONSTRAINT = 'run_items_run_id_fkey';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER run_items_run_exists AFTER INSERT ON run_items
  REFERENCING NEW TABLE AS new_items
  FOR EACH STATEMENT EXECUTE FUNCTION run_items_check_run();

CREATE FUNCTION run_items_keep_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'run_items.run_id cannot change (from % to %)', OLD.run_id, NEW.run_id
    USING ERRCODE = 'foreign_key_violation', TABLE = 'run_items', CONSTRAINT = 'run_items_run_id_fkey';
END $$;

CREATE TRIGGER run_items_run_fixed BEFORE UPDATE OF run_id ON run_items
  FOR EACH ROW WHEN (NEW.run_id IS DISTINCT FROM OLD.run_id) EXECUTE FUNCTION run_items_keep_run();

CREATE FUNCTION runs_delete_items() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  DELETE FROM run_items i USING old_runs o WHERE i.run_id = o.id;
  RETURN NULL;
END $$;

CREATE TRIGGER runs_delete_items AFTER DELETE ON runs
  REFERENCING OLD TABLE AS old_runs
  FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_items();
