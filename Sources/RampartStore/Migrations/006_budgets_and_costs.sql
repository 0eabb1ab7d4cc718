-- Rampart 006: budgets and operation costs for DBAs and the admin CLI. Same conventions as 003.
-- The server debits budget_usage itself, in the transaction of each charged call.
SET LOCAL ROLE rampart_owner;

CREATE FUNCTION rampart.check_subject(p_subject text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_subject IS NOT NULL AND (length(p_subject) = 0 OR octet_length(p_subject) > 256
                                  OR p_subject ~ '[[:cntrl:]]') THEN
        RAISE EXCEPTION 'invalid user %: use the token''s sub, 1-256 bytes without control characters',
            quote_literal(left(p_subject, 80)) USING ERRCODE = '22023';
    END IF;
END
$$;

-- Sets the daily budget of a tenant (p_subject NULL) or of one of its users.
CREATE FUNCTION rampart.set_budget(p_tenant text, p_daily bigint, p_subject text DEFAULT NULL)
RETURNS TABLE (tenant_id text, subject text, day date, daily_limit bigint, spent bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_subject(p_subject);
    IF p_daily IS NULL OR p_daily < 0 THEN
        RAISE EXCEPTION 'invalid daily budget %: must be zero or more', coalesce(p_daily::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO rampart.budgets AS b (tenant_id, subject, daily_limit)
    VALUES (p_tenant, coalesce(p_subject, ''), p_daily)
    ON CONFLICT ON CONSTRAINT budgets_pkey DO UPDATE SET daily_limit = excluded.daily_limit, updated_at = now();
    PERFORM rampart.audit_admin(p_tenant, 'set_budget', NULL,
                                jsonb_build_object('user', p_subject, 'daily', p_daily));
    PERFORM rampart.notify_change('budget', p_tenant);
    RETURN QUERY SELECT * FROM rampart.show_budget(p_tenant, p_subject);
END
$$;

-- Today's (UTC) budget and spending of a tenant or one user; daily_limit NULL means unlimited.
CREATE FUNCTION rampart.show_budget(p_tenant text, p_subject text DEFAULT NULL)
RETURNS TABLE (tenant_id text, subject text, day date, daily_limit bigint, spent bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_subject(p_subject);
    RETURN QUERY
    SELECT p_tenant, p_subject, today,
           (SELECT b.daily_limit FROM rampart.budgets b
            WHERE b.tenant_id = p_tenant AND b.subject = coalesce(p_subject, '')),
           coalesce((SELECT u.spent FROM rampart.budget_usage u
                     WHERE u.tenant_id = p_tenant AND u.subject = coalesce(p_subject, '') AND u.day = today), 0);
END
$$;

-- Sets what an operation costs, for every tenant (p_tenant NULL) or one.
CREATE FUNCTION rampart.set_cost(p_operation text, p_units integer, p_tenant text DEFAULT NULL)
RETURNS TABLE (operation text, units integer, tenant_id text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_operation IS NULL OR NOT p_operation = ANY (ARRAY['read_resource', 'list_resources', 'search_resources',
            'write_resource', 'execute_query', 'open_conversation']) THEN
        RAISE EXCEPTION 'unknown operation %: use a tool name (read_resource, list_resources, search_resources, write_resource, execute_query, open_conversation)',
            quote_literal(left(coalesce(p_operation, 'NULL'), 80)) USING ERRCODE = '22023';
    END IF;
    IF p_units IS NULL OR p_units < 0 OR p_units > 1000000 THEN
        RAISE EXCEPTION 'invalid cost %: expected 0 to 1000000 units', coalesce(p_units::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_tenant IS NULL THEN
        INSERT INTO rampart.default_costs AS d (operation, units) VALUES (p_operation, p_units)
        ON CONFLICT ON CONSTRAINT default_costs_pkey DO UPDATE SET units = excluded.units;
        -- A change for every tenant is recorded under '-', the bucket of tenant-less events.
        PERFORM rampart.audit_admin('-', 'set_default_cost', NULL,
                                    jsonb_build_object('operation', p_operation, 'units', p_units));
        PERFORM rampart.notify_change('costs', NULL);
    ELSE
        PERFORM rampart.require_tenant(p_tenant);
        INSERT INTO rampart.operation_costs AS o (tenant_id, operation, units) VALUES (p_tenant, p_operation, p_units)
        ON CONFLICT ON CONSTRAINT operation_costs_pkey DO UPDATE SET units = excluded.units;
        PERFORM rampart.audit_admin(p_tenant, 'set_cost', NULL,
                                    jsonb_build_object('operation', p_operation, 'units', p_units));
        PERFORM rampart.notify_change('costs', p_tenant);
    END IF;
    RETURN QUERY SELECT p_operation, p_units, p_tenant;
END
$$;

-- Every operation's cost: the default, or a tenant's override where it has one.
CREATE FUNCTION rampart.list_costs(p_tenant text DEFAULT NULL)
RETURNS TABLE (operation text, units integer, overridden boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_tenant IS NOT NULL THEN
        PERFORM rampart.require_tenant(p_tenant);
    END IF;
    RETURN QUERY
    SELECT d.operation, coalesce(o.units, d.units), o.units IS NOT NULL
    FROM rampart.default_costs d
    LEFT JOIN rampart.operation_costs o ON o.tenant_id = p_tenant AND o.operation = d.operation
    ORDER BY d.operation;
END
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    rampart.set_budget(text, bigint, text),
    rampart.show_budget(text, text),
    rampart.set_cost(text, integer, text),
    rampart.list_costs(text)
TO rampart_admin;
