-- Rampart 010: one round trip per data call (docs/architecture.md, docs/scaling.md).
--
-- Each data operation is one function of the caller (SECURITY INVOKER: the server's role, its
-- grants and forced RLS apply), taking the tenant first and a batch of calls (a JSON array; one
-- call today). For each call, in one transaction: the tenant is set transaction-locally; the
-- conversation (a session, a handle, or the token's implicit one) is resolved and locked; the
-- scope is applied; the operation runs; the rate-limit cells are charged (all or none); the
-- resource cap, the budget debit and the audit event follow, and the conversation's idle timer
-- restarts. Every outcome — refusals included — is audited in that transaction. Locks on hot rows
-- (rate cells, budget rows) are taken as late as possible, so they are held only to the commit.
--
-- Every function returns one row per call: (idx, outcome, detail, payload), where outcome is
-- ok | conversation_not_found | session_not_found | rate_limited | budget | not_found | cap |
-- conflict, detail a JSON object (versions, counts, the refusing limit or budget, and "audit": the
-- event the call wrote, for the server's stream), and payload the operation's data.
SET LOCAL ROLE rampart_owner;

-- Helpers ----------------------------------------------------------------------------------------

-- The tenant of the call's transaction, set here and never changed inside it; lock waits end by
-- the request's deadline (p_context.lock_timeout_ms). Returns the tenant's limits.
CREATE FUNCTION rampart.call_begin(p_tenant text, p_context jsonb) RETURNS rampart.tenant_limits
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
    SELECT * INTO limits FROM rampart.tenant_limits l WHERE l.tenant_id = p_tenant;
    IF NOT FOUND THEN
        limits := ROW(p_tenant, 1000, 100, 50, 20, 5, 100, 1800, 28800, NULL, false, now())::rampart.tenant_limits;
    END IF;
    RETURN limits;
END
$$;

-- rate_admit (sql/007), the same decision in one statement when the call's cells exist (they are
-- created, in key order, only when one is missing): lock them in key order, decide every one from
-- the database clock, write them back only if all admit, and name the cell that refuses longest.
CREATE OR REPLACE FUNCTION rampart.rate_admit(p_tenant text, p_cells text[], p_limits integer[])
RETURNS TABLE (cell text, wait_ms bigint)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_complete boolean;
BEGIN
    IF nullif(current_setting('rampart.tenant_id', true), '') IS DISTINCT FROM p_tenant
       AND nullif(current_setting('rampart.tenant_id', true), '') IS NOT NULL THEN
        RAISE EXCEPTION 'rate_admit inside another tenant''s transaction' USING ERRCODE = '42501';
    END IF;
    PERFORM set_config('rampart.tenant_id', p_tenant, true);
    FOR attempt IN 1..2 LOOP
        WITH params AS (
            SELECT p.cell, p.per_minute FROM unnest(p_cells, p_limits) AS p(cell, per_minute)
        ), locked AS (
            SELECT c.cell, c.tat FROM rampart.rate_limit_cells c
            WHERE c.tenant_id = p_tenant AND c.cell = ANY (p_cells)
            ORDER BY c.cell
            FOR UPDATE
        ), clock AS (
            SELECT clock_timestamp() AS now_t
        ), decided AS (
            SELECT l.cell, p.per_minute, make_interval(secs => 60.0 / p.per_minute) AS t,
                   greatest(l.tat, clock.now_t) + make_interval(secs => 60.0 / p.per_minute) AS new_tat, clock.now_t
            FROM locked l JOIN params p USING (cell), clock
        ), verdict AS (
            SELECT count(*) >= (SELECT count(DISTINCT k.cell) FROM params k) AS complete,
                   coalesce(bool_and(d.new_tat - d.now_t <= d.t * d.per_minute), true) AS admitted
            FROM decided d
        ), updated AS (
            UPDATE rampart.rate_limit_cells c SET tat = d.new_tat
            FROM decided d, verdict v
            WHERE v.complete AND v.admitted AND c.tenant_id = p_tenant AND c.cell = d.cell
            RETURNING c.cell
        ), refusal AS (
            SELECT d.cell,
                   greatest(1, ceil(extract(epoch FROM d.new_tat - d.t * d.per_minute - d.now_t) * 1000))::bigint AS wait
            FROM decided d, verdict v
            WHERE v.complete AND NOT v.admitted AND d.new_tat - d.now_t > d.t * d.per_minute
            ORDER BY 2 DESC
            LIMIT 1
        )
        SELECT v.complete, r.cell, r.wait INTO v_complete, cell, wait_ms
        FROM verdict v LEFT JOIN refusal r ON true;
        IF v_complete THEN
            IF cell IS NOT NULL THEN
                RETURN NEXT;
            END IF;
            RETURN;
        END IF;
        -- In key order too, so two calls creating the same new cells cannot wait on each other.
        INSERT INTO rampart.rate_limit_cells (tenant_id, cell, tat)
        SELECT p_tenant, k, '-infinity' FROM unnest(p_cells) AS k ORDER BY k
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;

-- Whether a resource URI is inside a conversation's scope patterns.
CREATE FUNCTION rampart.in_scope(p_uri text, p_scope text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_uri = ANY (p_scope)
        OR ('tenant://' || split_part(p_uri, '/', 3) || '/' || split_part(p_uri, '/', 4) || '/*') = ANY (p_scope)
        OR ('tenant://' || split_part(p_uri, '/', 3) || '/*') = ANY (p_scope)
$$;

-- A conversation's scope as listings, searches and queries filter by it.
CREATE FUNCTION rampart.scope_filter(p_tenant text, p_scope text[],
                                     OUT whole boolean, OUT collections text[], OUT documents text[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    whole := ('tenant://' || p_tenant || '/*') = ANY (p_scope);
    collections := array(SELECT split_part(substr(p, length(p_tenant) + 11), '/', 1) FROM unnest(p_scope) AS p
                         WHERE starts_with(p, 'tenant://' || p_tenant || '/') AND right(p, 2) = '/*'
                           AND p <> 'tenant://' || p_tenant || '/*');
    documents := array(SELECT substr(p, length(p_tenant) + 11) FROM unnest(p_scope) AS p
                       WHERE starts_with(p, 'tenant://' || p_tenant || '/') AND right(p, 2) <> '/*');
END
$$;

-- How many fields of a document rampart.visible hides (the audit's `redacted` count).
CREATE FUNCTION rampart.hidden_count(p_value jsonb, p_rules jsonb, p_path text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    total integer := 0;
    member record;
    member_path text;
BEGIN
    IF p_rules IS NULL THEN
        RETURN 0;
    END IF;
    CASE jsonb_typeof(p_value)
    WHEN 'object' THEN
        FOR member IN SELECT key, value FROM jsonb_each(p_value) LOOP
            member_path := CASE WHEN p_path IS NULL THEN member.key ELSE p_path || '.' || member.key END;
            IF (p_rules -> 'paths' ? member_path) OR (p_rules -> 'keys' ? member.key) THEN
                total := total + 1;
            ELSE
                total := total + rampart.hidden_count(member.value, p_rules, member_path);
            END IF;
        END LOOP;
    WHEN 'array' THEN
        SELECT coalesce(sum(rampart.hidden_count(e, p_rules, p_path)), 0) INTO total
        FROM jsonb_array_elements(p_value) AS e;
    ELSE
        NULL;
    END CASE;
    RETURN total;
END
$$;

-- The call's conversation, locked for the rest of the call and its idle timer restarted (one
-- UPDATE finds, locks and touches it). status: 'found'; 'open' (the token's implicit
-- conversation does not exist yet: the call opens it if admitted); or 'refused' (unknown,
-- expired, revoked or another principal's — all answer alike).
CREATE FUNCTION rampart.call_conversation(p_tenant text, p_call jsonb, p_limits rampart.tenant_limits,
    OUT status text, OUT id text, OUT scope text[], OUT used integer, OUT known text[])
LANGUAGE plpgsql
AS $$
DECLARE
    v_kind text := p_call #>> '{conversation,kind}';
BEGIN
    id := p_call #>> '{conversation,id}';
    UPDATE rampart.conversations c
    SET last_used_at = now(),
        expires_at = least(now() + make_interval(secs => p_limits.conversation_idle_seconds),
                           c.created_at + make_interval(secs => p_limits.conversation_lifetime_seconds))
    WHERE c.tenant_id = p_tenant AND c.conversation_id = id AND c.kind = v_kind
      AND c.issuer = p_call ->> 'issuer' AND c.subject = p_call ->> 'subject'
      AND c.revoked_at IS NULL AND c.expires_at > now()
    RETURNING c.scope,
              (SELECT coalesce(array_agg(r.uri), '{}') FROM rampart.conversation_resources r
               WHERE r.tenant_id = p_tenant AND r.conversation_id = c.conversation_id)
    INTO scope, known;
    IF FOUND THEN
        status := 'found';
        used := cardinality(known);
        RETURN;
    END IF;
    IF v_kind <> 'implicit' OR EXISTS (SELECT 1 FROM rampart.conversations c
                                      WHERE c.tenant_id = p_tenant AND c.conversation_id = id) THEN
        status := 'refused';
        RETURN;
    END IF;
    status := 'open';
    -- It starts from the token's rampart_scope claim (checked and narrowed to the tenant by the
    -- server), else the tenant's default scope.
    IF jsonb_typeof(p_call -> 'claimed_scope') = 'array' THEN
        scope := array(SELECT jsonb_array_elements_text(p_call -> 'claimed_scope'));
    ELSE
        scope := coalesce(p_limits.default_scope, ARRAY['tenant://' || p_tenant || '/*']);
    END IF;
    used := 0;
    known := '{}';
END
$$;

-- Opens the token's implicit conversation if the user's creation limit allows: NULL when it did
-- (or another call of the token just did), else the wait of the refusing cell.
CREATE FUNCTION rampart.call_open_implicit(p_tenant text, p_call jsonb, p_limits rampart.tenant_limits,
                                           p_id text, p_scope text[]) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_wait bigint;
BEGIN
    SELECT r.wait_ms INTO v_wait FROM rampart.rate_admit(p_tenant,
        ARRAY['conversation_creation:' || (p_call ->> 'issuer') || chr(31) || (p_call ->> 'subject')],
        ARRAY[p_limits.conversations_per_user_per_minute]) AS r;
    IF v_wait IS NOT NULL THEN
        RETURN v_wait;
    END IF;
    INSERT INTO rampart.conversations
        (tenant_id, conversation_id, kind, issuer, subject, scope, token_expires_at, expires_at)
    VALUES (p_tenant, p_id, 'implicit', p_call ->> 'issuer', p_call ->> 'subject', p_scope,
            to_timestamp((p_call ->> 'token_expires_at')::bigint),
            now() + make_interval(secs => least(p_limits.conversation_idle_seconds,
                                                p_limits.conversation_lifetime_seconds)))
    ON CONFLICT (tenant_id, conversation_id) DO NOTHING;
    RETURN NULL;
END
$$;

-- Restarts the conversation's idle timer, never past its lifetime.
CREATE FUNCTION rampart.call_touch(p_tenant text, p_id text, p_limits rampart.tenant_limits) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE rampart.conversations c
    SET last_used_at = now(),
        expires_at = least(now() + make_interval(secs => p_limits.conversation_idle_seconds),
                           c.created_at + make_interval(secs => p_limits.conversation_lifetime_seconds))
    WHERE c.tenant_id = p_tenant AND c.conversation_id = p_id;
END
$$;

-- Which groups of resources (a JSON array of arrays of URIs, in order) the conversation may
-- receive under its cap, each whole or not at all; records the admitted ones.
CREATE FUNCTION rampart.call_admit(p_tenant text, p_id text, p_max integer, p_used integer, p_known text[],
                                   p_groups jsonb) RETURNS boolean[]
LANGUAGE plpgsql
AS $$
DECLARE
    v_fresh text[] := '{}';
    v_new text[];
    v_group jsonb;
    v_admitted boolean[] := '{}';
BEGIN
    FOR v_group IN SELECT value FROM jsonb_array_elements(p_groups) LOOP
        v_new := array(SELECT DISTINCT u FROM jsonb_array_elements_text(v_group) AS u
                       WHERE NOT u = ANY (p_known) AND NOT u = ANY (v_fresh));
        IF p_used + cardinality(v_fresh) + cardinality(v_new) <= p_max THEN
            v_fresh := v_fresh || v_new;
            v_admitted := v_admitted || true;
        ELSE
            v_admitted := v_admitted || false;
        END IF;
    END LOOP;
    IF cardinality(v_fresh) > 0 THEN
        INSERT INTO rampart.conversation_resources (tenant_id, conversation_id, uri)
        SELECT p_tenant, p_id, unnest(v_fresh) ON CONFLICT DO NOTHING;
    END IF;
    RETURN v_admitted;
END
$$;

-- The call's audit event, in its transaction.
CREATE FUNCTION rampart.call_audit(p_tenant text, p_call jsonb, p_conversation text, p_decision text,
                                   p_layer text, p_reason text, p_resource text, p_cost bigint, p_details jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_details jsonb := coalesce(p_call -> 'details', '{}') || coalesce(p_details, '{}');
BEGIN
    INSERT INTO rampart.audit_events
        (tenant_id, request_id, subject, conversation, method, tool, resource, decision, layer, reason, cost, details)
    VALUES (p_tenant, p_call ->> 'request_id', p_call ->> 'subject', p_conversation, p_call ->> 'method',
            p_call ->> 'tool', p_resource, p_decision, p_layer, p_reason, coalesce(p_cost, 0), v_details);
    -- What the server streams and counts once the call commits (rampart.call_event).
    PERFORM set_config('rampart.call_event', jsonb_build_object('conversation', p_conversation,
        'resource', p_resource, 'decision', p_decision, 'layer', p_layer, 'reason', p_reason,
        'cost', coalesce(p_cost, 0), 'details', v_details)::text, true);
END
$$;

-- The event the call just audited, as {"audit": …} to add to its detail (and forgotten, so the
-- next call of a batch starts clean); {} when it audited none.
CREATE FUNCTION rampart.call_event() RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_event text := nullif(current_setting('rampart.call_event', true), '');
BEGIN
    PERFORM set_config('rampart.call_event', '', true);
    RETURN CASE WHEN v_event IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('audit', v_event::jsonb) END;
END
$$;

-- Everything a call does before its operation, and the refusals that end it there. Returns
-- NULL (the call goes on, its conversation in the OUT values) or the row that answers it.
CREATE FUNCTION rampart.call_gate(p_tenant text, p_call jsonb, p_limits rampart.tenant_limits, p_resource text,
    p_audit_resource text,
    OUT answer_outcome text, OUT answer_detail jsonb,
    OUT status text, OUT id text, OUT scope text[], OUT used integer, OUT known text[])
LANGUAGE plpgsql
AS $$
DECLARE
    v_refused text;
    v_wait bigint;
    v_user text;
    v_cells text[];
    v_limits integer[];
BEGIN
    -- A handshake-era call naming a handle runs in its session too: the session must be live (and
    -- its idle timer restarts) like the handle. Without it the call ends with the session's 404.
    IF p_call ? 'session' AND p_call #>> '{conversation,kind}' <> 'session' THEN
        UPDATE rampart.conversations c
        SET last_used_at = now(),
            expires_at = least(now() + make_interval(secs => p_limits.conversation_idle_seconds),
                               c.created_at + make_interval(secs => p_limits.conversation_lifetime_seconds))
        WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call ->> 'session' AND c.kind = 'session'
          AND c.issuer = p_call ->> 'issuer' AND c.subject = p_call ->> 'subject'
          AND c.revoked_at IS NULL AND c.expires_at > now();
        IF NOT FOUND THEN
            PERFORM rampart.call_audit(p_tenant, p_call, p_call ->> 'session', 'deny', 'context', 'session not found',
                                       p_audit_resource, 0, NULL);
            answer_outcome := 'session_not_found';
            answer_detail := '{}';
            RETURN;
        END IF;
    END IF;
    SELECT c.status, c.id, c.scope, c.used, c.known INTO status, id, scope, used, known
    FROM rampart.call_conversation(p_tenant, p_call, p_limits) AS c;
    IF status = 'refused' THEN
        PERFORM rampart.call_audit(p_tenant, p_call, id, 'deny', 'context',
            CASE WHEN p_call #>> '{conversation,kind}' = 'session' THEN 'session not found'
                 ELSE 'conversation not found' END, p_audit_resource, 0, NULL);
        answer_outcome := 'conversation_not_found';
        answer_detail := '{}';
        RETURN;
    END IF;
    -- The rate-limit cells: tenant, user, conversation, and the resource when there is one — all
    -- charged or none.
    v_user := (p_call ->> 'issuer') || chr(31) || (p_call ->> 'subject');
    v_cells := ARRAY['tenant', 'user:' || v_user, 'conversation:' ||
        CASE WHEN p_call #>> '{conversation,kind}' = 'implicit' THEN id ELSE v_user || chr(31) || id END];
    v_limits := ARRAY[p_limits.tenant_per_minute, p_limits.user_per_minute, p_limits.conversation_per_minute];
    IF p_resource IS NOT NULL THEN
        v_cells := v_cells || ('resource:' || p_resource);
        v_limits := v_limits || p_limits.resource_per_minute;
    END IF;
    SELECT split_part(r.cell, ':', 1), r.wait_ms INTO v_refused, v_wait
    FROM rampart.rate_admit(p_tenant, v_cells, v_limits) AS r;
    IF v_refused IS NOT NULL THEN
        PERFORM rampart.call_audit(p_tenant, p_call, id, 'deny', 'rate', v_refused || ' limit', p_audit_resource, 0,
                                   jsonb_build_object('retry_after_ms', v_wait));
        answer_outcome := 'rate_limited';
        answer_detail := jsonb_build_object('limit', v_refused, 'retry_after_ms', v_wait);
        RETURN;
    END IF;
    IF status = 'open' THEN
        v_wait := rampart.call_open_implicit(p_tenant, p_call, p_limits, id, scope);
        IF v_wait IS NOT NULL THEN
            PERFORM rampart.call_audit(p_tenant, p_call, id, 'deny', 'rate', 'conversation_creation limit',
                                       p_audit_resource, 0, jsonb_build_object('retry_after_ms', v_wait));
            answer_outcome := 'rate_limited';
            answer_detail := jsonb_build_object('limit', 'conversation_creation', 'retry_after_ms', v_wait);
            RETURN;
        END IF;
        -- Another first call of the same token may have opened it (and may have used some of its
        -- cap): take that one.
        SELECT c.status, c.scope, c.used, c.known INTO status, scope, used, known
        FROM rampart.call_conversation(p_tenant, p_call, p_limits) AS c;
        IF status <> 'found' THEN
            PERFORM rampart.call_audit(p_tenant, p_call, id, 'deny', 'context', 'conversation not found',
                                       p_audit_resource, 0, NULL);
            answer_outcome := 'conversation_not_found';
            answer_detail := '{}';
            RETURN;
        END IF;
    END IF;
END
$$;

-- Charges a successful operation to the tenant's budget and its user's (issuer and subject), as
-- rampart.charge (sql/009) decides it, in two statements: both pay or neither does — a user
-- budget that refuses gives the tenant's debit back. Returns the cost and, when a budget cannot
-- pay, which one ('tenant' or 'user').
CREATE FUNCTION rampart.call_charge(p_tenant text, p_call jsonb, OUT cost bigint, OUT refused text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_day date := (now() AT TIME ZONE 'UTC')::date;
    v_issuer text := p_call ->> 'issuer';
    v_subject text := p_call ->> 'subject';
    v_paid boolean;
BEGIN
    WITH unit AS (
        SELECT coalesce(
            (SELECT o.units FROM rampart.operation_costs o
             WHERE o.tenant_id = p_tenant AND o.operation = p_call ->> 'operation'),
            (SELECT d.units FROM rampart.default_costs d WHERE d.operation = p_call ->> 'operation'), 0)::bigint AS units
    ), cap AS (
        SELECT coalesce((SELECT b.daily_limit FROM rampart.budgets b
                         WHERE b.tenant_id = p_tenant AND b.subject = '' AND b.issuer = ''),
                        9223372036854775807) AS daily_limit
    ), paying AS (
        INSERT INTO rampart.budget_usage AS u (tenant_id, issuer, subject, day, spent)
        SELECT p_tenant, '', '', v_day, unit.units FROM unit, cap
        WHERE unit.units > 0 AND unit.units <= cap.daily_limit
        ON CONFLICT (tenant_id, issuer, subject, day) DO UPDATE SET spent = u.spent + excluded.spent
        WHERE u.spent + excluded.spent <= (SELECT daily_limit FROM cap)
        RETURNING 1
    )
    SELECT unit.units, EXISTS (SELECT 1 FROM paying) INTO cost, v_paid FROM unit;
    IF cost <= 0 THEN
        RETURN;
    ELSIF NOT v_paid THEN
        refused := 'tenant';
        RETURN;
    END IF;
    WITH cap AS (
        SELECT coalesce((SELECT b.daily_limit FROM rampart.budgets b
                         WHERE b.tenant_id = p_tenant AND b.subject = v_subject AND b.issuer IN (v_issuer, '')
                         ORDER BY b.issuer DESC LIMIT 1),
                        9223372036854775807) AS daily_limit
    ), paying AS (
        INSERT INTO rampart.budget_usage AS u (tenant_id, issuer, subject, day, spent)
        SELECT p_tenant, v_issuer, v_subject, v_day, cost FROM cap WHERE cost <= cap.daily_limit
        ON CONFLICT (tenant_id, issuer, subject, day) DO UPDATE SET spent = u.spent + excluded.spent
        WHERE u.spent + excluded.spent <= (SELECT daily_limit FROM cap)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM paying) INTO v_paid;
    IF NOT v_paid THEN
        -- The tenant's row is still locked by this transaction: the give-back is exact.
        UPDATE rampart.budget_usage u SET spent = u.spent - cost
        WHERE u.tenant_id = p_tenant AND u.issuer = '' AND u.subject = '' AND u.day = v_day;
        refused := 'user';
    END IF;
END
$$;

-- Gives back a charge of this call's transaction (both of its rows are still locked by it).
CREATE FUNCTION rampart.call_refund(p_tenant text, p_call jsonb, p_cost bigint) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_cost > 0 THEN
        UPDATE rampart.budget_usage u SET spent = u.spent - p_cost
        WHERE u.tenant_id = p_tenant AND u.day = (now() AT TIME ZONE 'UTC')::date
          AND ((u.issuer = '' AND u.subject = '')
               OR (u.issuer = p_call ->> 'issuer' AND u.subject = p_call ->> 'subject'));
    END IF;
END
$$;

-- A budget refusal's answer and audit event.
CREATE FUNCTION rampart.call_budget_refusal(p_tenant text, p_call jsonb, p_conversation text, p_budget text,
                                            p_resource text) RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM rampart.call_audit(p_tenant, p_call, p_conversation, 'deny', 'budget', p_budget || ' budget exhausted',
                               p_resource, 0, NULL);
    RETURN jsonb_build_object('budget', p_budget, 'resets_at',
        to_char((((now() AT TIME ZONE 'UTC')::date + 1)::timestamp), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
END
$$;

-- STABLE like to_char, so the planner inlines it into the statement that uses it.
CREATE FUNCTION rampart.iso_time(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- read_resource and resources/read ----------------------------------------------------------------
-- A call: {request_id, issuer, subject, method, tool, operation, conversation: {kind, id},
-- claimed_scope?, token_expires_at, uri, rules? (the caller's redaction rules for the collection,
-- Redactor.sqlRules), details?}. Payload: the document's JSON text.
CREATE FUNCTION rampart.call_read(p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_call jsonb;
    v_position bigint;
    v_gate record;
    v_uri text;
    v_document record;
    v_admitted boolean[];
    v_charge record;
    v_hidden integer;
BEGIN
    FOR v_call, v_position IN SELECT value, ordinality FROM jsonb_array_elements(p_calls) WITH ORDINALITY LOOP
        idx := v_position - 1;
        v_uri := v_call ->> 'uri';
        payload := NULL;
        SELECT * INTO v_gate FROM rampart.call_gate(p_tenant, v_call, v_limits, v_uri, v_uri);
        IF v_gate.answer_outcome IS NOT NULL THEN
            outcome := v_gate.answer_outcome;
            detail := v_gate.answer_detail;
            detail := detail || rampart.call_event();
            RETURN NEXT;
            CONTINUE;
        END IF;
        detail := jsonb_build_object('conversation', v_gate.id);
        IF split_part(v_uri, '/', 3) <> p_tenant OR NOT rampart.in_scope(v_uri, v_gate.scope) THEN
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'access',
                CASE WHEN split_part(v_uri, '/', 3) <> p_tenant THEN 'cross-tenant uri' ELSE 'outside conversation scope' END,
                v_uri, 0, NULL);
            outcome := 'not_found';
        ELSE
            SELECT d.body, d.version, d.updated_at INTO v_document FROM rampart.documents d
            WHERE d.tenant_id = p_tenant AND d.collection = split_part(v_uri, '/', 4) AND d.id = split_part(v_uri, '/', 5);
            IF NOT FOUND THEN
                PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'access', 'not found', v_uri, 0, NULL);
                outcome := 'not_found';
            ELSIF NOT (v_uri = ANY (v_gate.known)) AND v_gate.used + 1 > v_limits.max_resources_per_conversation THEN
                PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'context', 'resource cap reached',
                                           v_uri, 0, NULL);
                outcome := 'cap';
            ELSE
                SELECT * INTO v_charge FROM rampart.call_charge(p_tenant, v_call);
                IF v_charge.refused IS NOT NULL THEN
                    outcome := 'budget';
                    detail := detail || rampart.call_budget_refusal(p_tenant, v_call, v_gate.id, v_charge.refused, v_uri);
                ELSE
                    IF NOT (v_uri = ANY (v_gate.known)) THEN  -- under the cap: checked above
                        INSERT INTO rampart.conversation_resources (tenant_id, conversation_id, uri)
                        VALUES (p_tenant, v_gate.id, v_uri) ON CONFLICT DO NOTHING;
                    END IF;
                    v_hidden := rampart.hidden_count(v_document.body, v_call -> 'rules');
                    PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'allow', 'execute', 'read', v_uri,
                        v_charge.cost, jsonb_build_object('version', v_document.version, 'redacted', v_hidden));
                    outcome := 'ok';
                    detail := detail || jsonb_build_object('version', v_document.version,
                                                           'updated_at', rampart.iso_time(v_document.updated_at));
                    payload := v_document.body::text;
                END IF;
            END IF;
        END IF;
        detail := detail || rampart.call_event();
        RETURN NEXT;
    END LOOP;
END
$$;

-- list_resources and resources/list ---------------------------------------------------------------
-- A call adds: collection?, after? ([collection, id]), limit. Payload: a JSON array of
-- [collection, id, version, updatedAt], one more than `limit` when there is a next page.
CREATE FUNCTION rampart.call_list(p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_call jsonb;
    v_position bigint;
    v_gate record;
    v_filter record;
    v_collection text;
    v_limit integer;
    v_count integer;
    v_charge record;
BEGIN
    FOR v_call, v_position IN SELECT value, ordinality FROM jsonb_array_elements(p_calls) WITH ORDINALITY LOOP
        idx := v_position - 1;
        v_collection := v_call ->> 'collection';
        payload := NULL;
        SELECT * INTO v_gate FROM rampart.call_gate(p_tenant, v_call, v_limits, NULL, v_collection);
        IF v_gate.answer_outcome IS NOT NULL THEN
            outcome := v_gate.answer_outcome;
            detail := v_gate.answer_detail;
            detail := detail || rampart.call_event();
            RETURN NEXT;
            CONTINUE;
        END IF;
        detail := jsonb_build_object('conversation', v_gate.id);
        v_filter := rampart.scope_filter(p_tenant, v_gate.scope);
        v_limit := (v_call ->> 'limit')::integer;
        SELECT coalesce(jsonb_agg(jsonb_build_array(p.collection, p.id, p.version, rampart.iso_time(p.updated_at))
                                  ORDER BY p.collection, p.id), '[]')::text,
               count(*)::integer
        INTO payload, v_count
        FROM (SELECT d.collection, d.id, d.version, d.updated_at FROM rampart.documents d
              WHERE d.tenant_id = p_tenant
                AND (v_collection IS NULL OR d.collection = v_collection)
                AND (v_filter.whole OR d.collection = ANY (v_filter.collections)
                     OR (d.collection || '/' || d.id) = ANY (v_filter.documents))
                AND (d.collection, d.id) > (coalesce(v_call #>> '{after,0}', ''), coalesce(v_call #>> '{after,1}', ''))
              ORDER BY d.collection, d.id
              LIMIT v_limit + 1) AS p;
        SELECT * INTO v_charge FROM rampart.call_charge(p_tenant, v_call);
        IF v_charge.refused IS NOT NULL THEN
            outcome := 'budget';
            detail := detail || rampart.call_budget_refusal(p_tenant, v_call, v_gate.id, v_charge.refused, v_collection);
            payload := NULL;
        ELSE
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'allow', 'execute', 'listed', v_collection,
                                       v_charge.cost, jsonb_build_object('count', least(v_count, v_limit)));
            outcome := 'ok';
        END IF;
        detail := detail || rampart.call_event();
        RETURN NEXT;
    END LOOP;
END
$$;

-- search_resources --------------------------------------------------------------------------------
-- A call adds: query, collection?, limit, hiding? ({collection: rules} of the collections the
-- caller may not see whole), bodies (the caller rebuilds snippets). Payload: a JSON array of
-- [uri, score, snippet, body] of the hits the conversation may take, best first.
CREATE FUNCTION rampart.call_search(p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_call jsonb;
    v_position bigint;
    v_gate record;
    v_filter record;
    v_collection text;
    v_hiding jsonb;
    v_bodies boolean;
    v_hits jsonb;
    v_admitted boolean[];
    v_kept jsonb;
    v_hidden integer;
    v_charge record;
BEGIN
    FOR v_call, v_position IN SELECT value, ordinality FROM jsonb_array_elements(p_calls) WITH ORDINALITY LOOP
        idx := v_position - 1;
        v_collection := v_call ->> 'collection';
        payload := NULL;
        SELECT * INTO v_gate FROM rampart.call_gate(p_tenant, v_call, v_limits, NULL, v_collection);
        IF v_gate.answer_outcome IS NOT NULL THEN
            outcome := v_gate.answer_outcome;
            detail := v_gate.answer_detail;
            detail := detail || rampart.call_event();
            RETURN NEXT;
            CONTINUE;
        END IF;
        detail := jsonb_build_object('conversation', v_gate.id);
        v_filter := rampart.scope_filter(p_tenant, v_gate.scope);
        v_hiding := coalesce(v_call -> 'hiding', '{}');
        v_bodies := coalesce((v_call ->> 'bodies')::boolean, false);
        IF v_hiding = '{}' THEN
            -- No rules for this caller: the full-text index matches.
            SELECT coalesce(jsonb_agg(jsonb_build_array(h.uri, h.score, h.snippet, h.body, 0) ORDER BY h.rank), '[]')
            INTO v_hits
            FROM (
                SELECT 'tenant://' || p_tenant || '/' || d.collection || '/' || d.id AS uri,
                       ts_rank(d.search, q)::float8 AS score,
                       CASE WHEN v_bodies THEN '' ELSE ts_headline('english',
                           coalesce((SELECT string_agg(s #>> '{}', ' … ')
                                     FROM jsonb_path_query(d.body, 'strict $.** ? (@.type() == "string")') AS s), ''),
                           q, 'StartSel=**, StopSel=**, MaxWords=24, MinWords=8, MaxFragments=2') END AS snippet,
                       CASE WHEN v_bodies THEN d.body END AS body,
                       row_number() OVER (ORDER BY ts_rank(d.search, q) DESC, d.collection, d.id) AS rank
                FROM rampart.documents d, websearch_to_tsquery('english', v_call ->> 'query') AS q
                WHERE d.tenant_id = p_tenant AND d.search @@ q
                  AND (v_collection IS NULL OR d.collection = v_collection)
                  AND (v_filter.whole OR d.collection = ANY (v_filter.collections)
                       OR (d.collection || '/' || d.id) = ANY (v_filter.documents))
                ORDER BY 2 DESC, d.collection, d.id
                LIMIT (v_call ->> 'limit')::integer
            ) AS h;
        ELSE
            -- Collections the caller may not see whole are matched and ranked on what it sees.
            SELECT coalesce(jsonb_agg(jsonb_build_array(h.uri, h.score, '', h.body, h.hidden) ORDER BY h.rank), '[]')
            INTO v_hits
            FROM (
                SELECT 'tenant://' || p_tenant || '/' || d.collection || '/' || d.id AS uri,
                       ts_rank(v.vector, q)::float8 AS score, d.body,
                       rampart.hidden_count(d.body, v_hiding -> d.collection) AS hidden,
                       row_number() OVER (ORDER BY ts_rank(v.vector, q) DESC, d.collection, d.id) AS rank
                FROM rampart.documents d, websearch_to_tsquery('english', v_call ->> 'query') AS q,
                     LATERAL (SELECT CASE WHEN v_hiding ? d.collection
                                          THEN jsonb_to_tsvector('english'::regconfig,
                                                   rampart.visible(d.body, v_hiding -> d.collection), '["string"]')
                                          ELSE d.search END AS vector) AS v
                WHERE d.tenant_id = p_tenant AND v.vector @@ q
                  AND (v_collection IS NULL OR d.collection = v_collection)
                  AND (v_filter.whole OR d.collection = ANY (v_filter.collections)
                       OR (d.collection || '/' || d.id) = ANY (v_filter.documents))
                ORDER BY 2 DESC, d.collection, d.id
                LIMIT (v_call ->> 'limit')::integer
            ) AS h;
        END IF;
        SELECT * INTO v_charge FROM rampart.call_charge(p_tenant, v_call);
        IF v_charge.refused IS NOT NULL THEN
            outcome := 'budget';
            detail := detail || rampart.call_budget_refusal(p_tenant, v_call, v_gate.id, v_charge.refused, v_collection);
        ELSE
            v_admitted := rampart.call_admit(p_tenant, v_gate.id, v_limits.max_resources_per_conversation,
                v_gate.used, v_gate.known, (SELECT coalesce(jsonb_agg(jsonb_build_array(h -> 0)), '[]')
                                            FROM jsonb_array_elements(v_hits) AS h));
            SELECT coalesce(jsonb_agg(h.value ORDER BY h.ordinality), '[]') INTO v_kept
            FROM jsonb_array_elements(v_hits) WITH ORDINALITY AS h
            WHERE v_admitted[h.ordinality];
            SELECT coalesce(sum((h ->> 4)::integer), 0)::integer INTO v_hidden FROM jsonb_array_elements(v_hits) AS h;
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'allow', 'execute', 'searched', v_collection,
                v_charge.cost, jsonb_build_object('hits', jsonb_array_length(v_kept),
                    'withheld_by_cap', jsonb_array_length(v_hits) - jsonb_array_length(v_kept),
                    'query_length', length(v_call ->> 'query'), 'redacted', v_hidden));
            outcome := 'ok';
            payload := v_kept::text;
        END IF;
        detail := detail || rampart.call_event();
        RETURN NEXT;
    END LOOP;
END
$$;

-- write_resource ----------------------------------------------------------------------------------
-- A call adds: uri, content (the document), if_version?, expect_version? (set by the server when
-- it merged hidden fields into content from the version it read). Detail: version, created.
CREATE FUNCTION rampart.call_write(p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_call jsonb;
    v_position bigint;
    v_gate record;
    v_uri text;
    v_collection text;
    v_id text;
    v_expected bigint;
    v_version bigint;
    v_created boolean;
    v_charge record;
BEGIN
    FOR v_call, v_position IN SELECT value, ordinality FROM jsonb_array_elements(p_calls) WITH ORDINALITY LOOP
        idx := v_position - 1;
        v_uri := v_call ->> 'uri';
        v_collection := split_part(v_uri, '/', 4);
        v_id := split_part(v_uri, '/', 5);
        payload := NULL;
        SELECT * INTO v_gate FROM rampart.call_gate(p_tenant, v_call, v_limits, v_uri, v_uri);
        IF v_gate.answer_outcome IS NOT NULL THEN
            outcome := v_gate.answer_outcome;
            detail := v_gate.answer_detail;
            detail := detail || rampart.call_event();
            RETURN NEXT;
            CONTINUE;
        END IF;
        detail := jsonb_build_object('conversation', v_gate.id);
        v_expected := coalesce((v_call ->> 'if_version')::bigint, (v_call ->> 'expect_version')::bigint);
        IF split_part(v_uri, '/', 3) <> p_tenant OR NOT rampart.in_scope(v_uri, v_gate.scope) THEN
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'access',
                CASE WHEN split_part(v_uri, '/', 3) <> p_tenant THEN 'cross-tenant uri' ELSE 'outside conversation scope' END,
                v_uri, 0, NULL);
            outcome := 'not_found';
        ELSIF NOT (v_uri = ANY (v_gate.known)) AND v_gate.used + 1 > v_limits.max_resources_per_conversation THEN
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'context', 'resource cap reached',
                                       v_uri, 0, NULL);
            outcome := 'cap';
        ELSE
            -- Charged first, so a refused budget leaves nothing to undo; a write that does not
            -- happen (a conflict, a missing document) gives the charge back.
            SELECT * INTO v_charge FROM rampart.call_charge(p_tenant, v_call);
            v_version := CASE WHEN v_charge.refused IS NOT NULL THEN -1 END;
            IF v_version IS NULL AND v_expected IS NULL THEN
                INSERT INTO rampart.documents AS d (tenant_id, collection, id, body)
                VALUES (p_tenant, v_collection, v_id, v_call -> 'content')
                ON CONFLICT (tenant_id, collection, id)
                DO UPDATE SET body = excluded.body, version = d.version + 1, updated_at = now()
                RETURNING d.version, (d.xmax = 0) INTO v_version, v_created;
            ELSIF v_version IS NULL AND v_expected = 0 THEN
                INSERT INTO rampart.documents (tenant_id, collection, id, body)
                VALUES (p_tenant, v_collection, v_id, v_call -> 'content')
                ON CONFLICT (tenant_id, collection, id) DO NOTHING
                RETURNING version, true INTO v_version, v_created;
            ELSIF v_version IS NULL THEN
                UPDATE rampart.documents d SET body = v_call -> 'content', version = d.version + 1, updated_at = now()
                WHERE d.tenant_id = p_tenant AND d.collection = v_collection AND d.id = v_id AND d.version = v_expected
                RETURNING d.version, false INTO v_version, v_created;
            END IF;
            IF v_version IS NULL THEN
                PERFORM rampart.call_refund(p_tenant, v_call, v_charge.cost);
            END IF;
            IF v_version = -1 THEN
                outcome := 'budget';
                detail := detail || rampart.call_budget_refusal(p_tenant, v_call, v_gate.id, v_charge.refused, v_uri);
            ELSIF v_version IS NULL THEN
                IF v_expected > 0 AND NOT EXISTS (SELECT 1 FROM rampart.documents d WHERE d.tenant_id = p_tenant
                                                  AND d.collection = v_collection AND d.id = v_id) THEN
                    -- A missing document answers like a foreign one, whatever if_version said.
                    PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'access', 'not found', v_uri, 0, NULL);
                    outcome := 'not_found';
                ELSE
                    PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'deny', 'execute', 'version conflict',
                                               v_uri, 0, NULL);
                    outcome := 'conflict';
                    detail := detail || jsonb_build_object('expected', v_expected);
                END IF;
            ELSE
                IF NOT (v_uri = ANY (v_gate.known)) THEN  -- under the cap: checked above
                    INSERT INTO rampart.conversation_resources (tenant_id, conversation_id, uri)
                    VALUES (p_tenant, v_gate.id, v_uri) ON CONFLICT DO NOTHING;
                END IF;
                PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'allow', 'execute',
                    CASE WHEN v_created THEN 'created' ELSE 'updated' END, v_uri, v_charge.cost,
                    jsonb_build_object('version', v_version));
                outcome := 'ok';
                detail := detail || jsonb_build_object('version', v_version, 'created', v_created);
            END IF;
        END IF;
        detail := detail || rampart.call_event();
        RETURN NEXT;
    END LOOP;
END
$$;

-- execute_query -----------------------------------------------------------------------------------
-- A call adds: collection, sql and args — the statement DocumentQuerySQL compiled from the
-- validated query (fixed fragments only; every value is in args, $1) — which is run with the
-- conversation's scope as $2 (whole tenant), $3 (collections), $4 (documents), the tenant as $5
-- and the cap as $6. Payload: a JSON array of the rows the conversation may take, in order.
CREATE FUNCTION rampart.call_query(p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_call jsonb;
    v_position bigint;
    v_gate record;
    v_filter record;
    v_collection text;
    v_rows jsonb;
    v_admitted boolean[];
    v_kept jsonb;
    v_charge record;
BEGIN
    FOR v_call, v_position IN SELECT value, ordinality FROM jsonb_array_elements(p_calls) WITH ORDINALITY LOOP
        idx := v_position - 1;
        v_collection := v_call ->> 'collection';
        payload := NULL;
        SELECT * INTO v_gate FROM rampart.call_gate(p_tenant, v_call, v_limits, NULL, v_collection);
        IF v_gate.answer_outcome IS NOT NULL THEN
            outcome := v_gate.answer_outcome;
            detail := v_gate.answer_detail;
            detail := detail || rampart.call_event();
            RETURN NEXT;
            CONTINUE;
        END IF;
        detail := jsonb_build_object('conversation', v_gate.id);
        v_filter := rampart.scope_filter(p_tenant, v_gate.scope);
        EXECUTE 'SELECT coalesce(jsonb_agg(jsonb_build_array(r.value, r.documents)), ''[]'') FROM ('
                || (v_call ->> 'sql') || ') AS r(value, documents)'
        INTO v_rows
        USING v_call -> 'args', v_filter.whole, v_filter.collections, v_filter.documents, p_tenant,
              v_limits.max_resources_per_conversation + 1;
        SELECT * INTO v_charge FROM rampart.call_charge(p_tenant, v_call);
        IF v_charge.refused IS NOT NULL THEN
            outcome := 'budget';
            detail := detail || rampart.call_budget_refusal(p_tenant, v_call, v_gate.id, v_charge.refused, v_collection);
        ELSE
            v_admitted := rampart.call_admit(p_tenant, v_gate.id, v_limits.max_resources_per_conversation,
                v_gate.used, v_gate.known, (SELECT coalesce(jsonb_agg(r -> 1), '[]') FROM jsonb_array_elements(v_rows) AS r));
            SELECT coalesce(jsonb_agg(r.value -> 0 ORDER BY r.ordinality), '[]') INTO v_kept
            FROM jsonb_array_elements(v_rows) WITH ORDINALITY AS r
            WHERE v_admitted[r.ordinality];
            PERFORM rampart.call_audit(p_tenant, v_call, v_gate.id, 'allow', 'execute', 'queried', v_collection,
                v_charge.cost, jsonb_build_object('rows', jsonb_array_length(v_kept),
                    'withheld_by_cap', jsonb_array_length(v_rows) - jsonb_array_length(v_kept)));
            outcome := 'ok';
            payload := v_kept::text;
        END IF;
        detail := detail || rampart.call_event();
        RETURN NEXT;
    END LOOP;
END
$$;

-- The audit sealer ---------------------------------------------------------------------------------

-- STABLE like to_char and without a search_path of its own, so the planner inlines it (a SQL
-- function it cannot inline is parsed again on every call). Same text, so the same hashes.
ALTER FUNCTION rampart.audit_canonical(rampart.audit_events) STABLE RESET search_path;

-- seal_audit (sql/004), the same chain in three statements per batch instead of three per event:
-- the queued events are read in queue order with their rows, hashed in order in memory, then
-- linked and dequeued in bulk.
CREATE OR REPLACE FUNCTION rampart.seal_audit(p_max integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
    queued    record;
    v_pending bigint[] := '{}';
    v_tenants text[] := '{}';
    v_events  bigint[] := '{}';
    v_links   bytea[] := '{}';
    v_hashes  bytea[] := '{}';
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('rampart.audit_seal')) THEN
        RETURN 0;
    END IF;
    SELECT seq, hash INTO head_seq, head_hash FROM rampart.audit_chain ORDER BY seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0);
    head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
    FOR queued IN
        SELECT q.pending_id, q.event_tenant, q.event_id, e.event_id IS NOT NULL AS found,
               rampart.audit_canonical(e) AS canonical
        FROM (SELECT p.pending_id, p.event_tenant, p.event_id FROM rampart.audit_pending p
              ORDER BY p.pending_id LIMIT greatest(coalesce(p_max, 1000), 1)) AS q
        LEFT JOIN rampart.audit_events e ON e.tenant_id = q.event_tenant AND e.event_id = q.event_id
        ORDER BY q.pending_id
    LOOP
        v_pending := v_pending || queued.pending_id;
        CONTINUE WHEN NOT queued.found;
        v_tenants := v_tenants || queued.event_tenant;
        v_events := v_events || queued.event_id;
        v_links := v_links || head_hash;
        head_hash := sha256(head_hash || convert_to(queued.canonical, 'UTF8'));
        v_hashes := v_hashes || head_hash;
    END LOOP;
    INSERT INTO rampart.audit_chain (seq, event_tenant, event_id, prev_hash, hash)
    SELECT head_seq + u.position, u.tenant, u.event, u.link, u.hash
    FROM unnest(v_tenants, v_events, v_links, v_hashes) WITH ORDINALITY AS u(tenant, event, link, hash, position);
    DELETE FROM rampart.audit_pending WHERE pending_id = ANY (v_pending);
    RETURN cardinality(v_events);
END
$$;

-- Conversations and sessions -----------------------------------------------------------------------

-- Whether a scope pattern admits nothing outside another (same tenant implied by the prefix).
CREATE FUNCTION rampart.pattern_within(p_pattern text, p_outer text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_pattern = p_outer OR (right(p_outer, 2) = '/*' AND starts_with(p_pattern, left(p_outer, -1))) $$;

-- Opens a conversation: a stateless-era handle (open_conversation) or a handshake-era session
-- (initialize). A call: {request_id, issuer, subject, method, tool, token_expires_at, claimed_scope?,
-- kind, id (the new, random id), parent? ({kind, id}: the conversation it is opened from),
-- scope? (the patterns asked for), purpose?, protocol_version?, rate (whether the call passes the
-- tenant and user cells, as every tool call does)}. It narrows, never widens: every pattern asked
-- for must lie within the scope it starts from. Detail: conversation, scope, expires_at; or the
-- refusal (outcome 'widening' with the pattern, 'rate_limited', 'conversation_not_found').
CREATE FUNCTION rampart.open_conversation(p_tenant text, p_context jsonb, p_call jsonb)
RETURNS TABLE (outcome text, detail jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
    v_kind text := p_call ->> 'kind';
    v_start text[];
    v_scope text[];
    v_parent text;
    v_pattern text;
    v_wait bigint;
    v_refused text;
    v_expires timestamptz;
    v_user text := (p_call ->> 'issuer') || chr(31) || (p_call ->> 'subject');
    v_cells text[];
    v_limit_values integer[];
BEGIN
    IF p_call -> 'parent' IS NOT NULL AND jsonb_typeof(p_call -> 'parent') = 'object' THEN
        SELECT c.scope, c.conversation_id INTO v_start, v_parent FROM rampart.conversations c
        WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call #>> '{parent,id}'
          AND c.kind = p_call #>> '{parent,kind}' AND c.issuer = p_call ->> 'issuer'
          AND c.subject = p_call ->> 'subject' AND c.revoked_at IS NULL AND c.expires_at > now()
        FOR UPDATE;
        IF NOT FOUND THEN
            PERFORM rampart.call_audit(p_tenant, p_call, p_call #>> '{parent,id}', 'deny', 'context',
                                       'conversation not found', NULL, 0, NULL);
            RETURN QUERY SELECT 'conversation_not_found'::text, '{}'::jsonb || rampart.call_event();
            RETURN;
        END IF;
    ELSIF jsonb_typeof(p_call -> 'claimed_scope') = 'array' THEN
        v_start := array(SELECT jsonb_array_elements_text(p_call -> 'claimed_scope'));
    ELSE
        v_start := coalesce(v_limits.default_scope, ARRAY['tenant://' || p_tenant || '/*']);
    END IF;
    IF coalesce((p_call ->> 'rate')::boolean, false) THEN
        v_cells := ARRAY['tenant', 'user:' || v_user];
        v_limit_values := ARRAY[v_limits.tenant_per_minute, v_limits.user_per_minute];
        IF v_parent IS NOT NULL THEN
            v_cells := v_cells || ('conversation:' || CASE WHEN p_call #>> '{parent,kind}' = 'implicit' THEN v_parent
                                                          ELSE v_user || chr(31) || v_parent END);
            v_limit_values := v_limit_values || v_limits.conversation_per_minute;
        END IF;
        SELECT r.cell, r.wait_ms INTO v_refused, v_wait FROM rampart.rate_admit(p_tenant, v_cells, v_limit_values) AS r;
        IF v_refused IS NOT NULL THEN
            v_refused := split_part(v_refused, ':', 1);
            PERFORM rampart.call_audit(p_tenant, p_call, v_parent, 'deny', 'rate', v_refused || ' limit', NULL, 0,
                                       jsonb_build_object('retry_after_ms', v_wait));
            RETURN QUERY SELECT 'rate_limited'::text, jsonb_build_object('limit', v_refused, 'retry_after_ms', v_wait) || rampart.call_event();
            RETURN;
        END IF;
    END IF;
    IF jsonb_typeof(p_call -> 'scope') = 'array' THEN
        v_scope := array(SELECT jsonb_array_elements_text(p_call -> 'scope'));
        FOREACH v_pattern IN ARRAY v_scope LOOP
            IF NOT EXISTS (SELECT 1 FROM unnest(v_start) AS o WHERE rampart.pattern_within(v_pattern, o)) THEN
                PERFORM rampart.call_audit(p_tenant, p_call, v_parent, 'deny', 'context', 'scope widening refused', NULL,
                                           0, jsonb_build_object('pattern', v_pattern));
                RETURN QUERY SELECT 'widening'::text, jsonb_build_object('pattern', v_pattern) || rampart.call_event();
                RETURN;
            END IF;
        END LOOP;
    ELSE
        v_scope := v_start;
    END IF;
    SELECT r.wait_ms INTO v_wait FROM rampart.rate_admit(p_tenant,
        ARRAY['conversation_creation:' || v_user], ARRAY[v_limits.conversations_per_user_per_minute]) AS r;
    IF v_wait IS NOT NULL THEN
        PERFORM rampart.call_audit(p_tenant, p_call, v_parent, 'deny', 'rate', 'conversation_creation limit', NULL, 0,
                                   jsonb_build_object('retry_after_ms', v_wait));
        RETURN QUERY SELECT 'rate_limited'::text,
                            jsonb_build_object('limit', 'conversation_creation', 'retry_after_ms', v_wait) || rampart.call_event();
        RETURN;
    END IF;
    INSERT INTO rampart.conversations
        (tenant_id, conversation_id, kind, issuer, subject, protocol_version, scope, purpose, expires_at)
    VALUES (p_tenant, p_call ->> 'id', v_kind, p_call ->> 'issuer', p_call ->> 'subject', p_call ->> 'protocol_version',
            v_scope, p_call ->> 'purpose',
            now() + make_interval(secs => least(v_limits.conversation_idle_seconds,
                                                v_limits.conversation_lifetime_seconds)))
    RETURNING expires_at INTO v_expires;
    PERFORM rampart.call_audit(p_tenant, p_call, p_call ->> 'id', 'allow', 'context',
        CASE WHEN v_kind = 'session' THEN 'session opened' ELSE 'conversation opened' END, NULL, 0,
        CASE WHEN v_kind = 'session' THEN jsonb_build_object('protocol_version', p_call ->> 'protocol_version')
             ELSE jsonb_build_object('scope', to_jsonb(v_scope)) END);
    IF v_parent IS NOT NULL THEN
        PERFORM rampart.call_touch(p_tenant, v_parent, v_limits);
    END IF;
    RETURN QUERY SELECT 'ok'::text, jsonb_build_object('conversation', p_call ->> 'id', 'scope', to_jsonb(v_scope),
                                                       'expires_at', rampart.iso_time(v_expires)) || rampart.call_event();
END
$$;

-- A handshake-era session of the caller, live: its idle timer restarts ({"ok": true}), or it is
-- unknown, ended, expired or another principal's ({"ok": false, "audit": …}, the refusal audited).
CREATE FUNCTION rampart.resume_session(p_tenant text, p_context jsonb, p_call jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, p_context);
BEGIN
    UPDATE rampart.conversations c
    SET last_used_at = now(),
        expires_at = least(now() + make_interval(secs => v_limits.conversation_idle_seconds),
                           c.created_at + make_interval(secs => v_limits.conversation_lifetime_seconds))
    WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call #>> '{conversation,id}' AND c.kind = 'session'
      AND c.issuer = p_call ->> 'issuer' AND c.subject = p_call ->> 'subject'
      AND c.revoked_at IS NULL AND c.expires_at > now();
    IF FOUND THEN
        RETURN jsonb_build_object('ok', true) || rampart.call_event();
    END IF;
    PERFORM rampart.call_audit(p_tenant, p_call, p_call #>> '{conversation,id}', 'deny', 'context',
                               'session not found', NULL, 0, NULL);
    RETURN jsonb_build_object('ok', false) || rampart.call_event();
END
$$;

-- Ends the caller's live session (DELETE /mcp): ok when it did, and every process's session cache
-- hears of it; not ok when there was none to end. Either is audited ("audit").
CREATE FUNCTION rampart.end_session(p_tenant text, p_context jsonb, p_call jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.call_begin(p_tenant, p_context);
    UPDATE rampart.conversations c SET revoked_at = now()
    WHERE c.tenant_id = p_tenant AND c.conversation_id = p_call #>> '{conversation,id}' AND c.kind = 'session'
      AND c.issuer = p_call ->> 'issuer' AND c.subject = p_call ->> 'subject'
      AND c.revoked_at IS NULL AND c.expires_at > now();
    IF NOT FOUND THEN
        PERFORM rampart.call_audit(p_tenant, p_call, p_call #>> '{conversation,id}', 'deny', 'context',
                                   'session not found', NULL, 0, NULL);
        RETURN jsonb_build_object('ok', false) || rampart.call_event();
    END IF;
    PERFORM rampart.call_audit(p_tenant, p_call, p_call #>> '{conversation,id}', 'allow', 'context', 'session ended',
                               NULL, 0, NULL);
    PERFORM pg_notify('rampart_changes', json_build_object('kind', 'conversation', 'tenant', p_tenant,
                                                           'conversation', p_call #>> '{conversation,id}')::text);
    RETURN jsonb_build_object('ok', true) || rampart.call_event();
END
$$;

-- What the server caches of a tenant: status, grants, limits, redaction rules (one statement).
CREATE FUNCTION rampart.tenant_access(p_tenant text)
RETURNS TABLE (status text, scopes text[], tenant_per_minute integer, user_per_minute integer,
               conversation_per_minute integer, resource_per_minute integer, pii_detection boolean,
               conversations_per_user_per_minute integer, default_scope text[], redactions jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rampart.call_begin(p_tenant, '{}');
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

-- Previews and peeks -------------------------------------------------------------------------------

-- A call's answer without its effects: the same function runs inside a subtransaction that is
-- then rolled back (no audit event, nothing charged, no conversation opened or touched). Used when
-- the server must look at an answer before the call's audit event is written (detection counts).
CREATE FUNCTION rampart.call_preview(p_operation text, p_tenant text, p_context jsonb, p_calls jsonb)
RETURNS TABLE (idx integer, outcome text, detail jsonb, payload text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows jsonb;
BEGIN
    IF p_operation IS NULL OR NOT p_operation = ANY (ARRAY['read', 'list', 'search', 'write', 'query']) THEN
        RAISE EXCEPTION 'unknown call %', quote_literal(left(coalesce(p_operation, 'NULL'), 20)) USING ERRCODE = '22023';
    END IF;
    BEGIN
        EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(r)), ''[]'') FROM rampart.%I($1, $2, $3) AS r',
                       'call_' || p_operation)
        INTO v_rows USING p_tenant, p_context, p_calls;
        RAISE EXCEPTION USING ERRCODE = 'RB002';
    EXCEPTION WHEN SQLSTATE 'RB002' THEN
        NULL;
    END;
    RETURN QUERY SELECT (r ->> 'idx')::integer, r ->> 'outcome', r -> 'detail', r ->> 'payload'
                 FROM jsonb_array_elements(v_rows) AS r;
END
$$;

-- A document as the call's conversation may see it, read-only (no lock, no effect), for a write
-- that must keep the fields its caller cannot see: (version, body), or no row.
CREATE FUNCTION rampart.peek_document(p_tenant text, p_call jsonb)
RETURNS TABLE (version bigint, body text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_uri text := p_call ->> 'uri';
    v_scope text[];
    v_limits rampart.tenant_limits := rampart.call_begin(p_tenant, '{}');
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

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA rampart FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    rampart.call_preview(text, text, jsonb, jsonb), rampart.peek_document(text, jsonb),
    rampart.pattern_within(text, text), rampart.open_conversation(text, jsonb, jsonb),
    rampart.tenant_access(text),
    rampart.resume_session(text, jsonb, jsonb), rampart.end_session(text, jsonb, jsonb),
    rampart.call_begin(text, jsonb), rampart.in_scope(text, text[]), rampart.scope_filter(text, text[]),
    rampart.hidden_count(jsonb, jsonb, text),
    rampart.call_conversation(text, jsonb, rampart.tenant_limits),
    rampart.call_open_implicit(text, jsonb, rampart.tenant_limits, text, text[]),
    rampart.call_touch(text, text, rampart.tenant_limits),
    rampart.call_admit(text, text, integer, integer, text[], jsonb),
    rampart.call_audit(text, jsonb, text, text, text, text, text, bigint, jsonb), rampart.call_event(),
    rampart.call_gate(text, jsonb, rampart.tenant_limits, text, text),
    rampart.call_charge(text, jsonb), rampart.call_refund(text, jsonb, bigint),
    rampart.call_budget_refusal(text, jsonb, text, text, text),
    rampart.iso_time(timestamptz),
    rampart.call_read(text, jsonb, jsonb), rampart.call_list(text, jsonb, jsonb),
    rampart.call_search(text, jsonb, jsonb), rampart.call_write(text, jsonb, jsonb),
    rampart.call_query(text, jsonb, jsonb)
TO rampart_app;
