-- The ledger's own tables live in a schema of their own (CAMS_SCHEMA, default cams_enrich: the first
-- schema on the search_path migrations run with), so a CRM database's own `runs` or `run_items` never
-- meets them. On a fresh database the migrations before this one created them there already. A
-- database migrated before had them in public: they move with their rows, indexes, constraints and
-- identity sequences (the record of applied migrations has moved just before). business_profiles and
-- the failed_numbers view stay in public, where CRM queries find them; the view follows run_items.
DO $$
DECLARE
  ledger text := current_schema();
  t text;
BEGIN
  IF ledger <> 'public' THEN
    FOREACH t IN ARRAY ARRAY['runs', 'run_items', 'run_rejects', 'queue_alerts', 'number_failures', 'schedule_ticks'] LOOP
      IF to_regclass(format('%I.%I', ledger, t)) IS NULL AND to_regclass(format('public.%I', t)) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE public.%I SET SCHEMA %I', t, ledger);
      END IF;
    END LOOP;
  END IF;
END $$;
