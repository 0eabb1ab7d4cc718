-- Rampart 007: the rate-limit check and the budget charge as functions of the caller
-- (SECURITY INVOKER: the server's role and its RLS policies apply), so each is one round trip
-- with plans cached per connection instead of several parsed and planned statements.
SET LOCAL ROLE rampart_owner;

-- Charges one call to every cell (p_cells[i] admits p_limits[i] calls a minute), or to none:
-- returns the refusing cell with its wait in milliseconds, or no row when admitted. It sets the
-- tenant itself for the transaction it runs in: alone (one round trip), or inside a transaction
-- of the same tenant — never of another (refused).
CREATE FUNCTION rampart.rate_admit(p_tenant text, p_cells text[], p_limits integer[])
RETURNS TABLE (cell text, wait_ms bigint)
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF nullif(current_setting('rampart.tenant_id', true), '') IS DISTINCT FROM p_tenant
       AND nullif(current_setting('rampart.tenant_id', true), '') IS NOT NULL THEN
        RAISE EXCEPTION 'rate_admit inside another tenant''s transaction' USING ERRCODE = '42501';
    END IF;
    PERFORM set_config('rampart.tenant_id', p_tenant, true);
    INSERT INTO rampart.rate_limit_cells (tenant_id, cell, tat)
    SELECT p_tenant, unnest(p_cells), '-infinity'
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    WITH params AS (
        SELECT unnest(p_cells) AS cell, unnest(p_limits) AS per_minute
    ), clock AS (
        SELECT clock_timestamp() AS now_t
    ), locked AS (
        SELECT c.cell, c.tat FROM rampart.rate_limit_cells c
        WHERE c.tenant_id = p_tenant AND c.cell = ANY(p_cells)
        ORDER BY c.cell
        FOR UPDATE
    ), decided AS (
        SELECT l.cell, p.per_minute, make_interval(secs => 60.0 / p.per_minute) AS t,
               greatest(l.tat, clock.now_t) + make_interval(secs => 60.0 / p.per_minute) AS new_tat, clock.now_t
        FROM locked l JOIN params p USING (cell), clock
    ), verdict AS (
        SELECT bool_and(d.new_tat - d.now_t <= d.t * d.per_minute) AS admitted FROM decided d
    ), updated AS (
        UPDATE rampart.rate_limit_cells c SET tat = d.new_tat
        FROM decided d, verdict v
        WHERE v.admitted AND c.tenant_id = p_tenant AND c.cell = d.cell
        RETURNING c.cell
    )
    SELECT d.cell, greatest(1, ceil(extract(epoch FROM d.new_tat - d.t * d.per_minute - d.now_t) * 1000))::bigint
    FROM decided d, verdict v
    WHERE NOT v.admitted AND d.new_tat - d.now_t > d.t * d.per_minute AND (SELECT count(*) FROM updated) = 0
    ORDER BY 2 DESC
    LIMIT 1;
END
$$;

-- Charges a successful operation to the tenant's budget and the user's, inside the call's
-- transaction (whose tenant must be p_tenant). Returns the cost and, when a budget cannot pay,
-- which one ('tenant' or 'user'); the caller must then roll back.
CREATE FUNCTION rampart.charge(p_tenant text, p_subject text, p_operation text)
RETURNS TABLE (cost bigint, refused text)
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    units bigint;
    budget_key text;
    paid boolean;
BEGIN
    IF p_tenant IS DISTINCT FROM nullif(current_setting('rampart.tenant_id', true), '') THEN
        RAISE EXCEPTION 'charge outside its tenant transaction' USING ERRCODE = '42501';
    END IF;
    SELECT coalesce(
        (SELECT o.units FROM rampart.operation_costs o WHERE o.tenant_id = p_tenant AND o.operation = p_operation),
        (SELECT d.units FROM rampart.default_costs d WHERE d.operation = p_operation), 0)
    INTO units;
    IF units > 0 THEN
        FOREACH budget_key IN ARRAY ARRAY['', p_subject] LOOP
            WITH cap AS (
                SELECT coalesce((SELECT b.daily_limit FROM rampart.budgets b
                                 WHERE b.tenant_id = p_tenant AND b.subject = budget_key),
                                9223372036854775807) AS daily_limit
            ), paying AS (
                INSERT INTO rampart.budget_usage AS u (tenant_id, subject, day, spent)
                SELECT p_tenant, budget_key, (now() AT TIME ZONE 'UTC')::date, units FROM cap WHERE units <= cap.daily_limit
                ON CONFLICT (tenant_id, subject, day) DO UPDATE SET spent = u.spent + excluded.spent
                WHERE u.spent + excluded.spent <= (SELECT daily_limit FROM cap)
                RETURNING 1
            )
            SELECT count(*) > 0 INTO paid FROM paying;
            IF NOT paid THEN
                RETURN QUERY SELECT units, CASE WHEN budget_key = '' THEN 'tenant' ELSE 'user' END;
                RETURN;
            END IF;
        END LOOP;
    END IF;
    RETURN QUERY SELECT units, NULL::text;
END
$$;

REVOKE EXECUTE ON FUNCTION rampart.rate_admit(text, text[], integer[]), rampart.charge(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rampart.rate_admit(text, text[], integer[]), rampart.charge(text, text, text) TO rampart_app;
