-- Rampart 009: findings of the code review (docs/audit.md, docs/limits.md, docs/redaction.md).
--   1. Audit rows cannot be forged: the server and admin roles insert only the columns that
--      describe a decision; when and by whom is stamped by the database, and `admin` events
--      come only from the admin functions.
--   2. Per-user budgets are keyed by issuer and subject, as limits and conversations are.
--   3. An implicit conversation that ended is kept until its token expires, so revoking it holds.
--   4. Search can match what a caller sees: rampart.visible() applies redaction rules in SQL.
SET LOCAL ROLE rampart_owner;

-- 1. Audit --------------------------------------------------------------------------------------

REVOKE INSERT ON rampart.audit_events FROM rampart_app, rampart_admin;
GRANT INSERT (tenant_id, request_id, subject, conversation, method, tool, resource, decision, layer, reason, cost,
              details)
    ON rampart.audit_events TO rampart_app, rampart_admin;

CREATE FUNCTION rampart.audit_stamp() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.at := clock_timestamp();
    NEW.actor_role := session_user;
    -- The admin functions run as the owner (SECURITY DEFINER); nobody else writes admin events.
    IF NEW.layer = 'admin' AND current_user <> 'rampart_owner' THEN
        RAISE EXCEPTION 'admin audit events are written only by the admin functions' USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_events_stamp BEFORE INSERT ON rampart.audit_events
    FOR EACH ROW EXECUTE FUNCTION rampart.audit_stamp();

-- 2. Budgets by issuer and subject ----------------------------------------------------------------
-- issuer '' on a limit means "this subject of every issuer" (each issuer's user still has its own
-- spending); on usage, with subject '', the whole tenant.

ALTER TABLE rampart.budgets ADD COLUMN issuer text NOT NULL DEFAULT '';
ALTER TABLE rampart.budgets DROP CONSTRAINT budgets_pkey;
ALTER TABLE rampart.budgets ADD CONSTRAINT budgets_pkey PRIMARY KEY (tenant_id, issuer, subject);
ALTER TABLE rampart.budget_usage ADD COLUMN issuer text NOT NULL DEFAULT '';
ALTER TABLE rampart.budget_usage DROP CONSTRAINT budget_usage_pkey;
ALTER TABLE rampart.budget_usage ADD CONSTRAINT budget_usage_pkey PRIMARY KEY (tenant_id, issuer, subject, day);

CREATE FUNCTION rampart.check_issuer(p_issuer text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_issuer IS NOT NULL AND (length(p_issuer) = 0 OR octet_length(p_issuer) > 512
                                 OR p_issuer ~ '[[:cntrl:]]') THEN
        RAISE EXCEPTION 'invalid issuer %: use the token''s iss, 1-512 bytes without control characters',
            quote_literal(left(p_issuer, 80)) USING ERRCODE = '22023';
    END IF;
END
$$;

DROP FUNCTION rampart.show_budget(text, text);
DROP FUNCTION rampart.set_budget(text, bigint, text);

-- Today's (UTC) budget and spending of a tenant, of one user of every issuer (spending summed), or
-- of one issuer's user; daily_limit NULL means unlimited.
CREATE FUNCTION rampart.show_budget(p_tenant text, p_subject text DEFAULT NULL, p_issuer text DEFAULT NULL)
RETURNS TABLE (tenant_id text, subject text, issuer text, day date, daily_limit bigint, spent bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_subject(p_subject);
    PERFORM rampart.check_issuer(p_issuer);
    IF p_issuer IS NOT NULL AND p_subject IS NULL THEN
        RAISE EXCEPTION 'an issuer goes with a user' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT p_tenant, p_subject, p_issuer, today,
           (SELECT b.daily_limit FROM rampart.budgets b
            WHERE b.tenant_id = p_tenant AND b.subject = coalesce(p_subject, '')
              AND b.issuer IN (coalesce(p_issuer, ''), '')
            ORDER BY b.issuer DESC LIMIT 1),
           coalesce((SELECT sum(u.spent)::bigint FROM rampart.budget_usage u
                     WHERE u.tenant_id = p_tenant AND u.subject = coalesce(p_subject, '') AND u.day = today
                       AND (p_issuer IS NULL OR u.issuer = p_issuer)), 0);
END
$$;

-- Sets the daily budget of a tenant (p_subject NULL), of a user of every issuer, or of one
-- issuer's user.
CREATE FUNCTION rampart.set_budget(p_tenant text, p_daily bigint, p_subject text DEFAULT NULL,
                                   p_issuer text DEFAULT NULL)
RETURNS TABLE (tenant_id text, subject text, issuer text, day date, daily_limit bigint, spent bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.require_tenant(p_tenant);
    PERFORM rampart.check_subject(p_subject);
    PERFORM rampart.check_issuer(p_issuer);
    IF p_issuer IS NOT NULL AND p_subject IS NULL THEN
        RAISE EXCEPTION 'an issuer goes with a user' USING ERRCODE = '22023';
    END IF;
    IF p_daily IS NULL OR p_daily < 0 THEN
        RAISE EXCEPTION 'invalid daily budget %: must be zero or more', coalesce(p_daily::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO rampart.budgets AS b (tenant_id, issuer, subject, daily_limit)
    VALUES (p_tenant, coalesce(p_issuer, ''), coalesce(p_subject, ''), p_daily)
    ON CONFLICT ON CONSTRAINT budgets_pkey DO UPDATE SET daily_limit = excluded.daily_limit, updated_at = now();
    PERFORM rampart.audit_admin(p_tenant, 'set_budget', NULL,
                                jsonb_build_object('user', p_subject, 'issuer', p_issuer, 'daily', p_daily));
    PERFORM rampart.notify_change('budget', p_tenant);
    RETURN QUERY SELECT * FROM rampart.show_budget(p_tenant, p_subject, p_issuer);
END
$$;

DROP FUNCTION rampart.charge(text, text, text);

-- Charges a successful operation to the tenant's budget and its user's (issuer and subject),
-- inside the call's transaction (whose tenant must be p_tenant). Returns the cost and, when a
-- budget cannot pay, which one ('tenant' or 'user'); the caller must then roll back.
CREATE FUNCTION rampart.charge(p_tenant text, p_issuer text, p_subject text, p_operation text)
RETURNS TABLE (cost bigint, refused text)
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    units bigint;
    payer record;
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
        FOR payer IN SELECT * FROM (VALUES ('', '', 'tenant'), (p_issuer, p_subject, 'user')) AS p(issuer, subject, name)
        LOOP
            WITH cap AS (
                SELECT coalesce((SELECT b.daily_limit FROM rampart.budgets b
                                 WHERE b.tenant_id = p_tenant AND b.subject = payer.subject
                                   AND b.issuer IN (payer.issuer, '')
                                 ORDER BY b.issuer DESC LIMIT 1),
                                9223372036854775807) AS daily_limit
            ), paying AS (
                INSERT INTO rampart.budget_usage AS u (tenant_id, issuer, subject, day, spent)
                SELECT p_tenant, payer.issuer, payer.subject, (now() AT TIME ZONE 'UTC')::date, units
                FROM cap WHERE units <= cap.daily_limit
                ON CONFLICT (tenant_id, issuer, subject, day) DO UPDATE SET spent = u.spent + excluded.spent
                WHERE u.spent + excluded.spent <= (SELECT daily_limit FROM cap)
                RETURNING 1
            )
            SELECT count(*) > 0 INTO paid FROM paying;
            IF NOT paid THEN
                RETURN QUERY SELECT units, payer.name::text;
                RETURN;
            END IF;
        END LOOP;
    END IF;
    RETURN QUERY SELECT units, NULL::text;
END
$$;

-- 3. Implicit conversations are held until their token expires ---------------------------------

ALTER TABLE rampart.conversations ADD COLUMN token_expires_at timestamptz;

-- Deletes conversations that ended more than p_grace ago; an implicit one (its id derives from
-- its token) only once that token has expired too, so the token cannot open it afresh.
CREATE OR REPLACE FUNCTION rampart.sweep_conversations(p_grace_seconds integer DEFAULT 3600) RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH swept AS (
        DELETE FROM rampart.conversations
        WHERE least(expires_at, coalesce(revoked_at, expires_at)) < now() - make_interval(secs => greatest(p_grace_seconds, 0))
          AND (kind <> 'implicit' OR coalesce(token_expires_at, '-infinity') < now() - interval '2 minutes')
        RETURNING 1
    )
    SELECT count(*)::integer FROM swept
$$;

-- 4. What a caller sees -----------------------------------------------------------------------------

-- A masked value as responses show it: the last 4 characters kept; objects, arrays and null hidden.
CREATE FUNCTION rampart.masked(p_value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN jsonb_typeof(p_value) IN ('object', 'array', 'null') THEN to_jsonb('***REDACTED***'::text)
        ELSE to_jsonb(CASE WHEN length(t) > 4 THEN repeat('*', length(t) - 4) || right(t, 4)
                           ELSE repeat('*', length(t)) END)
    END
    FROM (SELECT CASE WHEN jsonb_typeof(p_value) = 'string' THEN p_value #>> '{}' ELSE p_value::text END) AS v(t)
$$;

-- A document as a caller sees it, under p_rules = {"keys": {KEY: ACTION}, "paths": {"a.b": ACTION}}
-- (key rules at any depth, path rules from the root, arrays transparent), as RampartCore's
-- Redactor applies them: search matches and ranks this, never the hidden text.
CREATE FUNCTION rampart.visible(p_value jsonb, p_rules jsonb, p_path text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shown jsonb := '{}';
    member record;
    member_path text;
    action text;
BEGIN
    CASE jsonb_typeof(p_value)
    WHEN 'object' THEN
        FOR member IN SELECT key, value FROM jsonb_each(p_value) LOOP
            member_path := CASE WHEN p_path IS NULL THEN member.key ELSE p_path || '.' || member.key END;
            action := coalesce(p_rules -> 'paths' ->> member_path, p_rules -> 'keys' ->> member.key);
            IF action IS NULL THEN
                shown := shown || jsonb_build_object(member.key, rampart.visible(member.value, p_rules, member_path));
            ELSIF action = 'redact' THEN
                shown := shown || jsonb_build_object(member.key, '***REDACTED***');
            ELSIF action = 'mask' THEN
                shown := shown || jsonb_build_object(member.key, rampart.masked(member.value));
            END IF;
        END LOOP;
        RETURN shown;
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(rampart.visible(e.value, p_rules, p_path) ORDER BY e.position)
                         FROM jsonb_array_elements(p_value) WITH ORDINALITY AS e(value, position)), '[]');
    ELSE
        RETURN p_value;
    END CASE;
END
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rampart.set_budget(text, bigint, text, text), rampart.show_budget(text, text, text)
    TO rampart_admin;
GRANT EXECUTE ON FUNCTION rampart.charge(text, text, text, text), rampart.sweep_conversations(integer),
    rampart.visible(jsonb, jsonb, text), rampart.masked(jsonb)
    TO rampart_app;
