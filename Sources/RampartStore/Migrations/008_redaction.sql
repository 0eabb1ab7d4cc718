-- Rampart 008: redaction rules and PII detection for DBAs and the admin CLI (docs/redaction.md).
-- Same conventions as 003: SECURITY DEFINER, fixed search_path, own checks, audit, NOTIFY.
SET LOCAL ROLE rampart_owner;

CREATE FUNCTION rampart.add_redaction(
    p_tenant text, p_collection text, p_field text, p_action text, p_unless_scope text DEFAULT NULL
) RETURNS rampart.redaction_rules
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added rampart.redaction_rules;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    IF p_collection IS NULL OR p_collection !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid collection %', quote_literal(left(coalesce(p_collection, 'NULL'), 80))
            USING ERRCODE = '22023';
    END IF;
    IF p_field IS NULL OR p_field !~ '^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$' THEN
        RAISE EXCEPTION 'invalid field %: a key name, or a dotted path from the root (contact.ssn)',
            quote_literal(left(coalesce(p_field, 'NULL'), 80)) USING ERRCODE = '22023';
    END IF;
    IF p_action IS NULL OR p_action NOT IN ('redact', 'remove', 'mask') THEN
        RAISE EXCEPTION 'invalid action %: redact, remove or mask', quote_literal(left(coalesce(p_action, 'NULL'), 40))
            USING ERRCODE = '22023';
    END IF;
    IF p_unless_scope IS NOT NULL THEN
        PERFORM rampart.check_scopes(ARRAY[p_unless_scope]);
    END IF;
    INSERT INTO rampart.redaction_rules AS r (tenant_id, collection, field, action, unless_scope)
    VALUES (p_tenant, p_collection, p_field, p_action, p_unless_scope)
    ON CONFLICT ON CONSTRAINT redaction_rules_pkey
    DO UPDATE SET action = excluded.action, unless_scope = excluded.unless_scope
    RETURNING * INTO added;
    PERFORM rampart.audit_admin(p_tenant, 'add_redaction', p_collection,
        jsonb_build_object('field', p_field, 'action', p_action, 'unless_scope', p_unless_scope));
    PERFORM rampart.notify_change('redaction', p_tenant);
    RETURN added;
END
$$;

CREATE FUNCTION rampart.list_redactions(p_tenant text)
RETURNS TABLE (collection text, field text, action text, unless_scope text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    RETURN QUERY SELECT r.collection, r.field, r.action, r.unless_scope FROM rampart.redaction_rules r
    WHERE r.tenant_id = p_tenant ORDER BY r.collection, r.field;
END
$$;

CREATE FUNCTION rampart.remove_redaction(p_tenant text, p_collection text, p_field text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    DELETE FROM rampart.redaction_rules r
    WHERE r.tenant_id = p_tenant AND r.collection = p_collection AND r.field = p_field;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no redaction rule for %.% of tenant %', p_collection, p_field, quote_literal(p_tenant)
            USING ERRCODE = 'P0002';
    END IF;
    PERFORM rampart.audit_admin(p_tenant, 'remove_redaction', p_collection, jsonb_build_object('field', p_field));
    PERFORM rampart.notify_change('redaction', p_tenant);
END
$$;

CREATE FUNCTION rampart.set_detection(p_tenant text, p_on boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    IF p_on IS NULL THEN
        RAISE EXCEPTION 'detection must be on or off' USING ERRCODE = '22023';
    END IF;
    INSERT INTO rampart.tenant_limits (tenant_id) VALUES (p_tenant) ON CONFLICT (tenant_id) DO NOTHING;
    UPDATE rampart.tenant_limits SET pii_detection = p_on, updated_at = now() WHERE tenant_id = p_tenant;
    PERFORM rampart.audit_admin(p_tenant, 'set_detection', NULL, jsonb_build_object('on', p_on));
    PERFORM rampart.notify_change('redaction', p_tenant);
    RETURN p_on;
END
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    rampart.add_redaction(text, text, text, text, text),
    rampart.list_redactions(text),
    rampart.remove_redaction(text, text, text),
    rampart.set_detection(text, boolean)
TO rampart_admin;
