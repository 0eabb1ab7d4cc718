-- Rampart 012: rate-limit cells are swept (docs/limits.md "Bounded state").
--
-- A cell is a GCRA theoretical arrival time. Once that time is in the past the cell decides
-- exactly as a missing one does (the next call starts from the database clock either way), so
-- deleting it changes no decision; without a sweep, every user, conversation and resource URI
-- ever named would keep its row for good, and a caller naming random URIs would grow the table
-- without bound. The sweep skips cells a call holds locked, and removes at most p_max a time so
-- that it never holds many locks at once.
SET LOCAL ROLE rampart_owner;

CREATE FUNCTION rampart.sweep_rate_cells(p_max integer DEFAULT 10000) RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH idle AS (
        SELECT c.tenant_id, c.cell FROM rampart.rate_limit_cells c
        WHERE c.tat < clock_timestamp()
        LIMIT greatest(least(p_max, 100000), 0)
        FOR UPDATE SKIP LOCKED
    ), swept AS (
        DELETE FROM rampart.rate_limit_cells c USING idle
        WHERE c.tenant_id = idle.tenant_id AND c.cell = idle.cell
        RETURNING 1
    )
    SELECT count(*)::integer FROM swept
$$;

REVOKE EXECUTE ON FUNCTION rampart.sweep_rate_cells(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rampart.sweep_rate_cells(integer) TO rampart_app;
