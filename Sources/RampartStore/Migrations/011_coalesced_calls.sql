-- Rampart 011: coalesced calls (docs/architecture.md, "Coalescing"; docs/limits.md).
--
-- A server process runs a busy tenant's concurrent calls as one batch: one transaction, one
-- commit, each call decided on its own by the call functions of sql/010, which already take a
-- batch. What changes here is the order of locks: every call transaction of a tenant that changes
-- anything first takes one transaction-level lock of that tenant, so a batch holding several
-- conversations can never wait, in a cycle, on another transaction of the same tenant. Reads of
-- the server's caches (tenant_access, peek_document) take no lock.
SET LOCAL ROLE rampart_owner;

CREATE OR REPLACE FUNCTION rampart.call_begin(p_tenant text, p_context jsonb) RETURNS rampart.tenant_limits
LANGUAGE plpgsql
AS $$
DECLARE
    limits rampart.tenant_limits;
BEGIN
    IF nullif(current_setting('rampart.tenant_id', true), '') IS DISTINCT FROM p_tenant
       AND nullif(current_setting('rampart.tenant_id', true), '') IS NOT NULL THEN
        RAISE EXCEPTION 'a call inside another tenant''s transaction' USING ERRCODE = '42501';
    END IF;
    -- Generic plans for every statement of the call: they are all key look-ups, and the planner
    -- would otherwise plan some of them afresh on every call (an array parameter makes a generic
    -- plan look dearer than it is), which costs more than running them.
    PERFORM set_config('rampart.tenant_id', p_tenant, true),
            set_config('plan_cache_mode', 'force_generic_plan', true),
            CASE WHEN p_context ? 'lock_timeout_ms'
                 THEN set_config('lock_timeout', (p_context ->> 'lock_timeout_ms')::bigint::text, true) END;
    -- Every call of the tenant that changes anything waits here, before it locks any row: a batch
    -- of calls locks several conversations and then the tenant's rate cell, and without one lock
    -- taken first two such transactions (or a batch and a lone call) could wait on each other.
    IF NOT coalesce((p_context ->> 'reads_only')::boolean, false) THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('rampart.tenant:' || p_tenant, 0));
    END IF;
    SELECT * INTO limits FROM rampart.tenant_limits l WHERE l.tenant_id = p_tenant;
    IF NOT FOUND THEN
        limits := ROW(p_tenant, 1000, 100, 50, 20, 5, 100, 1800, 28800, NULL, false, now())::rampart.tenant_limits;
    END IF;
    RETURN limits;
END
$$;

CREATE OR REPLACE FUNCTION rampart.tenant_access(p_tenant text)
RETURNS TABLE (status text, scopes text[], tenant_per_minute integer, user_per_minute integer,
               conversation_per_minute integer, resource_per_minute integer, pii_detection boolean,
               conversations_per_user_per_minute integer, default_scope text[], redactions jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.call_begin(p_tenant, '{"reads_only": true}');
    RETURN QUERY
    SELECT t.status, array(SELECT s.scope FROM rampart.tenant_scopes s WHERE s.tenant_id = t.tenant_id ORDER BY s.scope),
           coalesce(l.tenant_per_minute, 1000), coalesce(l.user_per_minute, 100),
           coalesce(l.conversation_per_minute, 50), coalesce(l.resource_per_minute, 20),
           coalesce(l.pii_detection, false), coalesce(l.conversations_per_user_per_minute, 5), l.default_scope,
           coalesce((SELECT jsonb_agg(jsonb_build_object('collection', r.collection, 'field', r.field,
                                                         'action', r.action, 'unless_scope', r.unless_scope)
                                      ORDER BY r.collection, r.field)
                     FROM rampart.redaction_rules r WHERE r.tenant_id = t.tenant_id), '[]')
    FROM rampart.tenants t LEFT JOIN rampart.tenant_limits l ON l.tenant_id = t.tenant_id
    WHERE t.tenant_id = p_tenant;
END
$$;

CREATE OR REPLACE FUNCTION rampart.peek_document(p_tenant text, p_call jsonb)
RETURNS TABLE (version bigint, body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_uri text := p_call ->> 'uri';
    v_scope text[];
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, '{"reads_only": true}');
BEGIN
    SELECT c.scope INTO v_scope FROM rampart.conversations c
    WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call #>> '{conversation,id}'
      AND c.kind = p_call #>> '{conversation,kind}' AND c.issuer = p_call ->> 'issuer'
      AND c.subject = p_call ->> 'subject' AND c.revoked_at IS NULL AND c.expires_at > now();
    IF NOT FOUND THEN
        IF p_call #>> '{conversation,kind}' <> 'implicit'
           OR EXISTS (SELECT 1 FROM rampart.conversations c
                      WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call #>> '{conversation,id}') THEN
            RETURN;
        END IF;
        v_scope := CASE WHEN jsonb_typeof(p_call -> 'claimed_scope') = 'array'
                        THEN array(SELECT jsonb_array_elements_text(p_call -> 'claimed_scope'))
                        ELSE coalesce(v_limits.default_scope, ARRAY['tenant://' || p_tenant || '/*']) END;
    END IF;
    IF split_part(v_uri, '/', 3) <> p_tenant OR NOT rampart.in_scope(v_uri, v_scope) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT d.version, d.body::text FROM rampart.documents d
                 WHERE d.tenant_id = p_tenant AND d.collection = split_part(v_uri, '/', 4)
                   AND d.id = split_part(v_uri, '/', 5);
END
$$;
