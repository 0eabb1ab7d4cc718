-- Rampart 013: a call past its deadline commits nothing.
--
-- The server answers 503 once a call's deadline (and a short grace) has passed, and then closes
-- the connection; but a statement waiting on a lock does not notice a closed connection, and
-- lock_timeout bounds each wait, not their sum. A call that waited on the tenant's lock and then
-- on its budget row could commit seconds after its caller had been told it failed (found by
-- test_failures.py with RAMPART_DB_PREPARED=off, where no session statement_timeout backs the
-- deadline up). call_begin now records the deadline on the database's own clock, from the time
-- left when the statement started, and call_audit — the last step of every call — undoes the
-- whole statement with 57014 (as statement_timeout would) once it has passed.
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
                 THEN set_config('lock_timeout', (p_context ->> 'lock_timeout_ms')::bigint::text, true) END,
            set_config('rampart.call_deadline',
                       CASE WHEN p_context ? 'lock_timeout_ms'
                            THEN (statement_timestamp()
                                  + (p_context ->> 'lock_timeout_ms')::bigint * interval '1 millisecond')::text
                            ELSE '' END, true);
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

CREATE OR REPLACE FUNCTION rampart.call_audit(p_tenant text, p_call jsonb, p_conversation text, p_decision text,
                                   p_layer text, p_reason text, p_resource text, p_cost bigint, p_details jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_details jsonb := coalesce(p_call -> 'details', '{}') || coalesce(p_details, '{}');
BEGIN
    -- Every call's last step is its audit row: past the deadline the whole statement is undone,
    -- so nothing the caller was told failed can commit later (rampart.call_deadline, call_begin).
    IF clock_timestamp() > nullif(current_setting('rampart.call_deadline', true), '')::timestamptz THEN
        RAISE EXCEPTION 'deadline exceeded' USING ERRCODE = '57014';
    END IF;
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
