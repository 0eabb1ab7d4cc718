-- Rampart 005: per-tenant limits and conversation administration for DBAs and the admin CLI,
-- and the sweeper the server calls. Same conventions as 003: SECURITY DEFINER, fixed
-- search_path, own argument checks, an audit event and a NOTIFY per change.
SET LOCAL ROLE rampart_owner;

-- tenant://{tenant}/*, tenant://{tenant}/{collection}/* or tenant://{tenant}/{collection}/{id}
CREATE FUNCTION rampart.check_scope_patterns(p_tenant text, p_patterns text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p text;
BEGIN
    FOREACH p IN ARRAY coalesce(p_patterns, ARRAY[]::text[]) LOOP
        IF p IS NULL OR p !~ ('^tenant://' || p_tenant || '/(\*|[a-z][a-z0-9_]{0,62}/(\*|[A-Za-z0-9_-]{1,64}))$') THEN
            RAISE EXCEPTION 'invalid scope pattern %: expected tenant://%/*, tenant://%/{collection}/* or a resource URI of that tenant',
                quote_literal(left(coalesce(p, 'NULL'), 120)), p_tenant, p_tenant
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
END
$$;

-- Changes the given limits (NULL keeps a value); p_default_scope '{}' resets the default scope
-- to the whole tenant.
CREATE FUNCTION rampart.set_limits(
    p_tenant text,
    p_tenant_per_minute integer DEFAULT NULL,
    p_user_per_minute integer DEFAULT NULL,
    p_conversation_per_minute integer DEFAULT NULL,
    p_resource_per_minute integer DEFAULT NULL,
    p_conversations_per_user_per_minute integer DEFAULT NULL,
    p_max_resources_per_conversation integer DEFAULT NULL,
    p_conversation_idle_seconds integer DEFAULT NULL,
    p_conversation_lifetime_seconds integer DEFAULT NULL,
    p_default_scope text[] DEFAULT NULL
) RETURNS rampart.tenant_limits
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    updated rampart.tenant_limits;
    name text;
    value integer;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    FOR name, value IN VALUES
        ('tenant-per-minute', p_tenant_per_minute), ('user-per-minute', p_user_per_minute),
        ('conversation-per-minute', p_conversation_per_minute), ('resource-per-minute', p_resource_per_minute),
        ('conversations-per-user-per-minute', p_conversations_per_user_per_minute),
        ('max-resources-per-conversation', p_max_resources_per_conversation),
        ('conversation-idle-seconds', p_conversation_idle_seconds),
        ('conversation-lifetime-seconds', p_conversation_lifetime_seconds)
    LOOP
        IF value IS NOT NULL AND (value < 1 OR value > 100000000) THEN
            RAISE EXCEPTION 'invalid %: %, expected 1 to 100000000', name, value USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF cardinality(p_default_scope) > 32 THEN
        RAISE EXCEPTION 'invalid default scope: at most 32 patterns' USING ERRCODE = '22023';
    END IF;
    PERFORM rampart.check_scope_patterns(p_tenant, p_default_scope);

    INSERT INTO rampart.tenant_limits (tenant_id) VALUES (p_tenant) ON CONFLICT (tenant_id) DO NOTHING;
    UPDATE rampart.tenant_limits SET
        tenant_per_minute = coalesce(p_tenant_per_minute, tenant_per_minute),
        user_per_minute = coalesce(p_user_per_minute, user_per_minute),
        conversation_per_minute = coalesce(p_conversation_per_minute, conversation_per_minute),
        resource_per_minute = coalesce(p_resource_per_minute, resource_per_minute),
        conversations_per_user_per_minute = coalesce(p_conversations_per_user_per_minute, conversations_per_user_per_minute),
        max_resources_per_conversation = coalesce(p_max_resources_per_conversation, max_resources_per_conversation),
        conversation_idle_seconds = coalesce(p_conversation_idle_seconds, conversation_idle_seconds),
        conversation_lifetime_seconds = coalesce(p_conversation_lifetime_seconds, conversation_lifetime_seconds),
        default_scope = CASE WHEN p_default_scope IS NULL THEN default_scope
                             WHEN cardinality(p_default_scope) = 0 THEN NULL
                             ELSE p_default_scope END,
        updated_at = now()
    WHERE tenant_id = p_tenant
    RETURNING * INTO updated;
    PERFORM rampart.audit_admin(p_tenant, 'set_limits', NULL, to_jsonb(updated) - 'tenant_id' - 'updated_at');
    PERFORM rampart.notify_change('limits', p_tenant);
    RETURN updated;
END
$$;

CREATE FUNCTION rampart.show_limits(p_tenant text) RETURNS rampart.tenant_limits
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_limits rampart.tenant_limits;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    SELECT * INTO found_limits FROM rampart.tenant_limits WHERE tenant_id = p_tenant;
    IF NOT FOUND THEN
        found_limits.tenant_id := p_tenant;
    END IF;
    RETURN found_limits;
END
$$;

CREATE FUNCTION rampart.list_conversations(p_tenant text)
RETURNS TABLE (conversation_id text, kind text, issuer text, subject text, scope text[], purpose text,
               created_at timestamptz, last_used_at timestamptz, expires_at timestamptz, revoked_at timestamptz,
               resources bigint, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    RETURN QUERY
    SELECT c.conversation_id, c.kind, c.issuer, c.subject, c.scope, c.purpose, c.created_at, c.last_used_at,
           c.expires_at, c.revoked_at,
           (SELECT count(*) FROM rampart.conversation_resources r
            WHERE r.tenant_id = c.tenant_id AND r.conversation_id = c.conversation_id),
           CASE WHEN c.revoked_at IS NOT NULL THEN 'revoked' WHEN c.expires_at <= now() THEN 'expired'
                ELSE 'active' END
    FROM rampart.conversations c
    WHERE c.tenant_id = p_tenant
    ORDER BY c.created_at, c.conversation_id;
END
$$;

-- Revokes a conversation by its id, whichever tenant it belongs to.
CREATE FUNCTION rampart.revoke_conversation(p_conversation text)
RETURNS TABLE (tenant_id text, conversation_id text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    revoked_tenant text;
BEGIN
    IF p_conversation IS NULL OR p_conversation !~ '^[A-Za-z0-9_-]{16,128}$' THEN
        RAISE EXCEPTION 'invalid conversation id %', quote_literal(left(coalesce(p_conversation, 'NULL'), 140))
            USING ERRCODE = '22023';
    END IF;
    UPDATE rampart.conversations c SET revoked_at = now()
    WHERE c.conversation_id = p_conversation AND c.revoked_at IS NULL AND c.expires_at > now()
    RETURNING c.tenant_id INTO revoked_tenant;
    IF revoked_tenant IS NULL THEN
        RAISE EXCEPTION 'no active conversation %', quote_literal(p_conversation) USING ERRCODE = 'P0002';
    END IF;
    PERFORM rampart.audit_admin(revoked_tenant, 'revoke_conversation', NULL,
                                jsonb_build_object('conversation', p_conversation));
    PERFORM rampart.notify_change('conversation', revoked_tenant);
    RETURN QUERY SELECT revoked_tenant, p_conversation;
END
$$;

-- Deletes conversations that ended (expired or revoked) more than p_grace ago; the server's
-- sweeper calls it. Audit events keep the ids of the conversations they happened in.
CREATE FUNCTION rampart.sweep_conversations(p_grace_seconds integer DEFAULT 3600) RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH swept AS (
        DELETE FROM rampart.conversations
        WHERE least(expires_at, coalesce(revoked_at, expires_at)) < now() - make_interval(secs => greatest(p_grace_seconds, 0))
        RETURNING 1
    )
    SELECT count(*)::integer FROM swept
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    rampart.set_limits(text, integer, integer, integer, integer, integer, integer, integer, integer, text[]),
    rampart.show_limits(text),
    rampart.list_conversations(text),
    rampart.revoke_conversation(text)
TO rampart_admin;
GRANT EXECUTE ON FUNCTION rampart.sweep_conversations(integer) TO rampart_app;
