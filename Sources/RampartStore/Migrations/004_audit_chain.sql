-- Rampart 004: the audit hash chain.
--
-- audit_events stays append-only for every role but the owner. Each committed event is queued in
-- audit_pending by a trigger; one sealer at a time (rampart.seal_audit, serialised by an advisory
-- lock, callable from any number of server processes) appends the queued events to audit_chain
-- in the order it sees them commit, each link hash = sha256(previous hash || the event's
-- canonical form). rampart.verify_audit() recomputes the chain and names every altered, missing
-- or unchained event. docs/audit.md describes the format.
--
-- The chain tables hold hashes and event keys, not tenant data; no role but the owner may touch
-- them, and only through the functions below.
SET LOCAL ROLE rampart_owner;

CREATE TABLE rampart.audit_pending (
    pending_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_tenant text   NOT NULL,
    event_id     bigint NOT NULL
);

CREATE TABLE rampart.audit_chain (
    seq          bigint      PRIMARY KEY CHECK (seq > 0),
    event_tenant text        NOT NULL,
    event_id     bigint      NOT NULL,
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL,
    sealed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (event_tenant, event_id)
);

REVOKE ALL ON rampart.audit_pending, rampart.audit_chain FROM PUBLIC;

-- The canonical form of an event: a JSON array of every column in a fixed order (jsonb renders
-- its objects with sorted keys, and timestamps are written in UTC to the microsecond).
CREATE FUNCTION rampart.audit_canonical(e rampart.audit_events) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_array(e.tenant_id, e.event_id,
        to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), e.request_id, e.subject,
        e.conversation, e.method, e.tool, e.resource, e.decision, e.layer, e.reason, e.cost, e.actor_role,
        e.details)::text
$$;

CREATE FUNCTION rampart.audit_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO rampart.audit_pending (event_tenant, event_id) VALUES (NEW.tenant_id, NEW.event_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_events_enqueue AFTER INSERT ON rampart.audit_events
    FOR EACH ROW EXECUTE FUNCTION rampart.audit_enqueue();

-- Events written before this migration join the chain first, oldest first.
INSERT INTO rampart.audit_pending (event_tenant, event_id)
SELECT tenant_id, event_id FROM rampart.audit_events ORDER BY event_id;

-- Seals up to p_max queued events; returns how many. Returns 0 at once when another sealer holds
-- the lock, so every server process may call it on a timer.
CREATE FUNCTION rampart.seal_audit(p_max integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
    queued    record;
    event_row rampart.audit_events;
    sealed    integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('rampart.audit_seal')) THEN
        RETURN 0;
    END IF;
    SELECT seq, hash INTO head_seq, head_hash FROM rampart.audit_chain ORDER BY seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0);
    head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
    FOR queued IN
        SELECT pending_id, event_tenant, event_id FROM rampart.audit_pending
        ORDER BY pending_id LIMIT greatest(coalesce(p_max, 1000), 1)
    LOOP
        SELECT * INTO event_row FROM rampart.audit_events
        WHERE tenant_id = queued.event_tenant AND event_id = queued.event_id;
        IF FOUND THEN
            head_seq := head_seq + 1;
            INSERT INTO rampart.audit_chain (seq, event_tenant, event_id, prev_hash, hash)
            VALUES (head_seq, queued.event_tenant, queued.event_id, head_hash,
                    sha256(head_hash || convert_to(rampart.audit_canonical(event_row), 'UTF8')))
            RETURNING hash INTO head_hash;
            sealed := sealed + 1;
        END IF;
        DELETE FROM rampart.audit_pending WHERE pending_id = queued.pending_id;
    END LOOP;
    RETURN sealed;
END
$$;

-- Recomputes the whole chain. problems names, in chain order, every link whose event was altered
-- or deleted, every gap in the sequence, and every event that is in neither the chain nor the
-- queue (inserted behind the trigger's back).
CREATE FUNCTION rampart.verify_audit(p_max_problems integer DEFAULT 100)
RETURNS TABLE (verified bigint, pending bigint, head text, problems text[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    link      record;
    expected  bytea := decode(repeat('00', 32), 'hex');
    next_seq  bigint := 1;
    found_row rampart.audit_events;
    stray     record;
BEGIN
    verified := 0;
    problems := ARRAY[]::text[];
    FOR link IN SELECT * FROM rampart.audit_chain ORDER BY seq LOOP
        EXIT WHEN cardinality(problems) >= p_max_problems;
        IF link.seq <> next_seq THEN
            problems := problems || format('chain entries %s to %s are missing', next_seq, link.seq - 1);
        END IF;
        IF link.prev_hash <> expected THEN
            problems := problems || format('chain entry %s does not follow entry %s', link.seq, link.seq - 1);
        END IF;
        SELECT * INTO found_row FROM rampart.audit_events
        WHERE tenant_id = link.event_tenant AND event_id = link.event_id;
        IF NOT FOUND THEN
            problems := problems || format('event %s of tenant %s is missing (chain entry %s)',
                                           link.event_id, link.event_tenant, link.seq);
        ELSIF sha256(link.prev_hash || convert_to(rampart.audit_canonical(found_row), 'UTF8')) <> link.hash THEN
            problems := problems || format('event %s of tenant %s was altered (chain entry %s)',
                                           link.event_id, link.event_tenant, link.seq);
        ELSE
            verified := verified + 1;
        END IF;
        expected := link.hash;
        next_seq := link.seq + 1;
    END LOOP;
    FOR stray IN
        SELECT e.tenant_id, e.event_id FROM rampart.audit_events e
        WHERE NOT EXISTS (SELECT 1 FROM rampart.audit_chain c
                          WHERE c.event_tenant = e.tenant_id AND c.event_id = e.event_id)
          AND NOT EXISTS (SELECT 1 FROM rampart.audit_pending p
                          WHERE p.event_tenant = e.tenant_id AND p.event_id = e.event_id)
        ORDER BY e.event_id
        LIMIT greatest(p_max_problems - cardinality(problems), 0)
    LOOP
        problems := problems || format('event %s of tenant %s is not in the chain (inserted)',
                                       stray.event_id, stray.tenant_id);
    END LOOP;
    SELECT count(*) INTO pending FROM rampart.audit_pending;
    head := encode(expected, 'hex');
    RETURN NEXT;
END
$$;

-- Events for `rampart audit tail | export`: oldest first, after p_after (an event id) and since
-- p_since, of one tenant or all, at most p_limit; with p_last, the newest p_limit instead.
CREATE FUNCTION rampart.audit_events(
    p_tenant text DEFAULT NULL,
    p_since timestamptz DEFAULT NULL,
    p_after bigint DEFAULT 0,
    p_limit integer DEFAULT 1000,
    p_last boolean DEFAULT false
) RETURNS SETOF rampart.audit_events
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM (
        SELECT * FROM rampart.audit_events
        WHERE (p_tenant IS NULL OR tenant_id = p_tenant)
          AND (p_since IS NULL OR at >= p_since)
          AND event_id > coalesce(p_after, 0)
        ORDER BY CASE WHEN p_last THEN -event_id ELSE event_id END
        LIMIT greatest(coalesce(p_limit, 1000), 1)
    ) AS page
    ORDER BY event_id
$$;

REVOKE ALL ON FUNCTION rampart.audit_canonical(rampart.audit_events), rampart.audit_enqueue(),
    rampart.seal_audit(integer), rampart.verify_audit(integer),
    rampart.audit_events(text, timestamptz, bigint, integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rampart.seal_audit(integer) TO rampart_app, rampart_admin;
GRANT EXECUTE ON FUNCTION rampart.verify_audit(integer),
    rampart.audit_events(text, timestamptz, bigint, integer, boolean) TO rampart_admin;
