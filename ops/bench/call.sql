-- The statements `rampart serve` runs for one charged read_resource call in the stateless era
-- (implicit conversation, tenant and user budgets), as pgbench variables: :t tenant number,
-- :u user number. First the rate-limit check (one statement, its own transaction), then the
-- call's own transaction.
\set t random(0, :tenants - 1)
\set u random(0, 9)
SELECT cell, wait_ms FROM rampart.rate_admit('bt' || :t,
    ARRAY['tenant', 'user:bench' || :u, 'conversation:bench-conversation-' || :u, 'resource:tenant://bt' || :t || '/sales/q1']::text[],
    ARRAY[100000000, 100000000, 100000000, 100000000]::integer[]);
BEGIN;
SELECT set_config('rampart.tenant_id', 'bt' || :t, true);
UPDATE rampart.conversations c
SET last_used_at = now(),
    expires_at = least(now() + make_interval(secs => coalesce(l.conversation_idle_seconds, 1800)),
                       c.created_at + make_interval(secs => coalesce(l.conversation_lifetime_seconds, 28800)))
FROM (SELECT NULL) AS one
LEFT JOIN rampart.tenant_limits l ON l.tenant_id = 'bt' || :t
WHERE c.tenant_id = 'bt' || :t AND c.conversation_id = 'bench-conversation-' || :u AND c.kind = 'implicit'
  AND c.issuer = 'bench' AND c.subject = 'bench' || :u AND c.revoked_at IS NULL AND c.expires_at > now()
RETURNING c.scope, c.protocol_version, c.expires_at, coalesce(l.max_resources_per_conversation, 100);
SELECT body::text, version, updated_at FROM rampart.documents
WHERE tenant_id = 'bt' || :t AND collection = 'sales' AND id = 'q1';
SELECT uri, count(*) OVER () FROM rampart.conversation_resources
WHERE tenant_id = 'bt' || :t AND conversation_id = 'bench-conversation-' || :u;
SELECT cost, refused FROM rampart.charge('bt' || :t, 'bench', 'bench' || :u, 'read_resource');
INSERT INTO rampart.audit_events
    (tenant_id, request_id, subject, conversation, method, tool, resource, decision, layer, reason, cost, details)
SELECT 'bt' || :t, r.request_id, r.subject, r.conversation, r.method, r.tool, r.resource, r.decision, r.layer,
       r.reason, r.cost, r.details
FROM jsonb_to_recordset(('[{"request_id":"bench","subject":"bench' || :u || '","conversation":"bench-conversation-' || :u || '","method":"tools/call","tool":"read_resource","resource":"tenant://bt' || :t || '/sales/q1","decision":"allow","layer":"execute","reason":"read","cost":1,"details":{"version":1}}]')::jsonb) AS r(
    request_id text, subject text, conversation text, method text, tool text, resource text,
    decision text, layer text, reason text, cost bigint, details jsonb);
COMMIT;
