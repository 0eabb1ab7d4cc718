-- Rampart 003: provisioning functions for DBAs and the admin CLI.
--
-- Each function is SECURITY DEFINER (it runs as rampart_owner, which sees every tenant's rows)
-- with a fixed search_path, checks its own arguments, raises one clear message on bad input, and
-- records an audit event naming the database role that called it. Errors use these SQLSTATEs:
--   22023 invalid argument · P0002 unknown tenant or document · 23505 already exists · 40001 version conflict
-- docs/operations.md documents every function with a psql example.
SET LOCAL ROLE rampart_owner;

CREATE FUNCTION rampart.known_scopes() RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ARRAY['resources:read', 'resources:search', 'resources:write', 'resources:query', 'pii:read'] $$;

CREATE FUNCTION rampart.check_tenant_id(p_tenant text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_tenant IS NULL OR p_tenant !~ '^[a-z0-9][a-z0-9-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid tenant id %: use 1-63 lowercase letters, digits and dashes, starting with a letter or digit',
            quote_literal(left(coalesce(p_tenant, 'NULL'), 80))
            USING ERRCODE = '22023';
    END IF;
END
$$;

CREATE FUNCTION rampart.require_tenant(p_tenant text) RETURNS rampart.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant_row rampart.tenants;
BEGIN
    PERFORM rampart.check_tenant_id(p_tenant);
    SELECT * INTO tenant_row FROM rampart.tenants WHERE tenant_id = p_tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown tenant %', quote_literal(p_tenant) USING ERRCODE = 'P0002';
    END IF;
    RETURN tenant_row;
END
$$;

CREATE FUNCTION rampart.check_scopes(p_scopes text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text;
BEGIN
    IF p_scopes IS NULL OR cardinality(p_scopes) = 0 THEN
        RAISE EXCEPTION 'no scopes given' USING ERRCODE = '22023';
    END IF;
    FOREACH s IN ARRAY p_scopes LOOP
        IF s IS NULL OR NOT s = ANY (rampart.known_scopes()) THEN
            RAISE EXCEPTION 'unknown scope %: known scopes are %', quote_literal(left(coalesce(s, 'NULL'), 80)),
                array_to_string(rampart.known_scopes(), ', ')
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
END
$$;

-- Admin actions leave an audit event in the same transaction as their effect.
CREATE FUNCTION rampart.audit_admin(p_tenant text, p_action text, p_resource text, p_details jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO rampart.audit_events (tenant_id, method, tool, resource, decision, layer, reason, details)
    VALUES (p_tenant, 'admin', p_action, p_resource, 'allow', 'admin', 'admin action', coalesce(p_details, '{}'));
$$;

CREATE FUNCTION rampart.notify_change(p_kind text, p_tenant text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_notify('rampart_changes', json_build_object('kind', p_kind, 'tenant', p_tenant)::text) $$;

-- Tenants ------------------------------------------------------------------------------------

CREATE FUNCTION rampart.create_tenant(
    p_tenant text,
    p_name text DEFAULT NULL,
    p_daily_budget bigint DEFAULT NULL,
    p_scopes text[] DEFAULT ARRAY['resources:read', 'resources:search', 'resources:write', 'resources:query']
) RETURNS rampart.tenants
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    created rampart.tenants;
BEGIN
    PERFORM rampart.check_tenant_id(p_tenant);
    IF p_name IS NOT NULL AND (length(p_name) = 0 OR length(p_name) > 200) THEN
        RAISE EXCEPTION 'invalid tenant name: use 1-200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_daily_budget IS NOT NULL AND p_daily_budget < 0 THEN
        RAISE EXCEPTION 'invalid daily budget %: must be zero or more', p_daily_budget USING ERRCODE = '22023';
    END IF;
    IF p_scopes IS NOT NULL AND cardinality(p_scopes) > 0 THEN
        PERFORM rampart.check_scopes(p_scopes);
    END IF;
    IF EXISTS (SELECT 1 FROM rampart.tenants WHERE tenant_id = p_tenant) THEN
        RAISE EXCEPTION 'tenant % already exists', quote_literal(p_tenant) USING ERRCODE = '23505';
    END IF;

    INSERT INTO rampart.tenants (tenant_id, name) VALUES (p_tenant, coalesce(p_name, p_tenant))
    RETURNING * INTO created;
    INSERT INTO rampart.tenant_limits (tenant_id) VALUES (p_tenant);
    INSERT INTO rampart.tenant_scopes (tenant_id, scope)
    SELECT p_tenant, s FROM unnest(coalesce(p_scopes, ARRAY[]::text[])) AS s ON CONFLICT DO NOTHING;
    IF p_daily_budget IS NOT NULL THEN
        INSERT INTO rampart.budgets (tenant_id, subject, daily_limit) VALUES (p_tenant, '', p_daily_budget);
    END IF;
    PERFORM rampart.audit_admin(p_tenant, 'create_tenant', NULL,
        jsonb_build_object('scopes', coalesce(p_scopes, ARRAY[]::text[]), 'daily_budget', p_daily_budget));
    RETURN created;
END
$$;

CREATE FUNCTION rampart.set_tenant_status(p_tenant text, p_status text) RETURNS rampart.tenants
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed rampart.tenants;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    IF p_status NOT IN ('active', 'suspended') THEN
        RAISE EXCEPTION 'invalid tenant status %: use active or suspended', quote_literal(p_status)
            USING ERRCODE = '22023';
    END IF;
    UPDATE rampart.tenants SET status = p_status, updated_at = now()
    WHERE tenant_id = p_tenant RETURNING * INTO changed;
    PERFORM rampart.audit_admin(p_tenant, CASE p_status WHEN 'active' THEN 'resume_tenant' ELSE 'suspend_tenant' END,
        NULL, '{}');
    PERFORM rampart.notify_change('tenant', p_tenant);
    RETURN changed;
END
$$;

CREATE FUNCTION rampart.suspend_tenant(p_tenant text) RETURNS rampart.tenants
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT rampart.set_tenant_status(p_tenant, 'suspended') $$;

CREATE FUNCTION rampart.resume_tenant(p_tenant text) RETURNS rampart.tenants
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT rampart.set_tenant_status(p_tenant, 'active') $$;

CREATE FUNCTION rampart.list_tenants()
RETURNS TABLE (tenant_id text, name text, status text, created_at timestamptz, scopes text[], documents bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.tenant_id, t.name, t.status, t.created_at,
           coalesce((SELECT array_agg(s.scope ORDER BY s.scope) FROM rampart.tenant_scopes s
                     WHERE s.tenant_id = t.tenant_id), ARRAY[]::text[]),
           (SELECT count(*) FROM rampart.documents d WHERE d.tenant_id = t.tenant_id)
    FROM rampart.tenants t
    ORDER BY t.tenant_id
$$;

CREATE FUNCTION rampart.show_tenant(p_tenant text)
RETURNS TABLE (tenant_id text, name text, status text, created_at timestamptz, scopes text[], documents bigint,
               daily_budget bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    RETURN QUERY
    SELECT l.tenant_id, l.name, l.status, l.created_at, l.scopes, l.documents,
           (SELECT b.daily_limit FROM rampart.budgets b WHERE b.tenant_id = p_tenant AND b.subject = '')
    FROM rampart.list_tenants() l
    WHERE l.tenant_id = p_tenant;
END
$$;

-- Scopes --------------------------------------------------------------------------------------

CREATE FUNCTION rampart.grant_scopes(p_tenant text, p_scopes text[]) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_scopes(p_scopes);
    INSERT INTO rampart.tenant_scopes (tenant_id, scope)
    SELECT p_tenant, s FROM unnest(p_scopes) AS s ON CONFLICT DO NOTHING;
    PERFORM rampart.audit_admin(p_tenant, 'grant_scopes', NULL, jsonb_build_object('scopes', p_scopes));
    PERFORM rampart.notify_change('scopes', p_tenant);
    RETURN rampart.list_scopes(p_tenant);
END
$$;

CREATE FUNCTION rampart.revoke_scopes(p_tenant text, p_scopes text[]) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_scopes(p_scopes);
    DELETE FROM rampart.tenant_scopes WHERE tenant_id = p_tenant AND scope = ANY (p_scopes);
    PERFORM rampart.audit_admin(p_tenant, 'revoke_scopes', NULL, jsonb_build_object('scopes', p_scopes));
    PERFORM rampart.notify_change('scopes', p_tenant);
    RETURN rampart.list_scopes(p_tenant);
END
$$;

CREATE FUNCTION rampart.list_scopes(p_tenant text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    RETURN coalesce((SELECT array_agg(scope ORDER BY scope) FROM rampart.tenant_scopes WHERE tenant_id = p_tenant),
                    ARRAY[]::text[]);
END
$$;

-- Documents -----------------------------------------------------------------------------------

CREATE FUNCTION rampart.check_document_key(p_collection text, p_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_collection IS NULL OR p_collection !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid collection %: use 1-63 lowercase letters, digits and underscores, starting with a letter',
            quote_literal(left(coalesce(p_collection, 'NULL'), 80))
            USING ERRCODE = '22023';
    END IF;
    IF p_id IS NULL OR p_id !~ '^[A-Za-z0-9_-]{1,64}$' THEN
        RAISE EXCEPTION 'invalid document id %: use 1-64 letters, digits, underscores and dashes',
            quote_literal(left(coalesce(p_id, 'NULL'), 80))
            USING ERRCODE = '22023';
    END IF;
END
$$;

-- Creates or replaces a document; p_if_version, when given, must equal the current version
-- (0 means "must not exist yet").
CREATE FUNCTION rampart.put_document(
    p_tenant text, p_collection text, p_id text, p_body jsonb, p_if_version bigint DEFAULT NULL
) RETURNS TABLE (version bigint, updated_at timestamptz, created boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_version bigint;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_document_key(p_collection, p_id);
    IF p_body IS NULL OR jsonb_typeof(p_body) <> 'object' THEN
        RAISE EXCEPTION 'a document must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF octet_length(p_body::text) > 1048576 THEN
        RAISE EXCEPTION 'document is larger than 1 MiB' USING ERRCODE = '22023';
    END IF;

    SELECT d.version INTO current_version FROM rampart.documents d
    WHERE d.tenant_id = p_tenant AND d.collection = p_collection AND d.id = p_id
    FOR UPDATE;
    IF p_if_version IS NOT NULL AND coalesce(current_version, 0) <> p_if_version THEN
        RAISE EXCEPTION 'version conflict: document is at version %, not %', coalesce(current_version, 0), p_if_version
            USING ERRCODE = '40001';
    END IF;

    IF current_version IS NULL THEN
        RETURN QUERY
        INSERT INTO rampart.documents AS d (tenant_id, collection, id, body)
        VALUES (p_tenant, p_collection, p_id, p_body)
        RETURNING d.version, d.updated_at, true;
    ELSE
        RETURN QUERY
        UPDATE rampart.documents AS d SET body = p_body, version = d.version + 1, updated_at = now()
        WHERE d.tenant_id = p_tenant AND d.collection = p_collection AND d.id = p_id
        RETURNING d.version, d.updated_at, false;
    END IF;
    PERFORM rampart.audit_admin(p_tenant, 'put_document',
        format('tenant://%s/%s/%s', p_tenant, p_collection, p_id), '{}');
END
$$;

CREATE FUNCTION rampart.get_document(p_tenant text, p_collection text, p_id text)
RETURNS TABLE (body jsonb, version bigint, updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_document_key(p_collection, p_id);
    RETURN QUERY
    SELECT d.body, d.version, d.updated_at FROM rampart.documents d
    WHERE d.tenant_id = p_tenant AND d.collection = p_collection AND d.id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'document tenant://%/%/% not found', p_tenant, p_collection, p_id USING ERRCODE = 'P0002';
    END IF;
END
$$;

CREATE FUNCTION rampart.list_documents(p_tenant text, p_collection text DEFAULT NULL)
RETURNS TABLE (collection text, id text, version bigint, updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    IF p_collection IS NOT NULL THEN
        PERFORM rampart.check_document_key(p_collection, 'x');
    END IF;
    RETURN QUERY
    SELECT d.collection, d.id, d.version, d.updated_at FROM rampart.documents d
    WHERE d.tenant_id = p_tenant AND (p_collection IS NULL OR d.collection = p_collection)
    ORDER BY d.collection, d.id;
END
$$;

-- Only the admin role may call these; helpers stay private to the owner.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    rampart.create_tenant(text, text, bigint, text[]),
    rampart.suspend_tenant(text),
    rampart.resume_tenant(text),
    rampart.list_tenants(),
    rampart.show_tenant(text),
    rampart.grant_scopes(text, text[]),
    rampart.revoke_scopes(text, text[]),
    rampart.list_scopes(text),
    rampart.put_document(text, text, text, jsonb, bigint),
    rampart.get_document(text, text, text),
    rampart.list_documents(text, text)
TO rampart_admin;
