-- The pgbench reference for write_resource: rate-counter upsert, conditional budget debit, the
-- document upsert with its version bump, and the audit insert, in ONE transaction, prepared.
\set t random(0, :tenants - 1)
\set u random(1, 10)
BEGIN;
INSERT INTO rampart.rate_limit_cells AS c (tenant_id, cell, tat) VALUES ('bt' || (:t)::text, 'user-bench' || (:u)::text, clock_timestamp())
ON CONFLICT (tenant_id, cell) DO UPDATE SET tat = greatest(c.tat, clock_timestamp()) + interval '1 ms';
INSERT INTO rampart.budget_usage AS b (tenant_id, issuer, subject, day, spent)
VALUES ('bt' || (:t)::text, '', '', (now() AT TIME ZONE 'UTC')::date, 2)
ON CONFLICT (tenant_id, issuer, subject, day) DO UPDATE SET spent = b.spent + 2
WHERE b.spent + 2 <= 1000000000000;
INSERT INTO rampart.documents AS d (tenant_id, collection, id, body) VALUES ('bt' || (:t)::text, 'load', 'p' || (:u)::text, '{"note": "bench"}')
ON CONFLICT (tenant_id, collection, id) DO UPDATE SET body = excluded.body, version = d.version + 1, updated_at = now();
INSERT INTO rampart.audit_events (tenant_id, request_id, subject, method, tool, resource, decision, layer, reason, cost)
VALUES ('bt' || (:t)::text, 'bench', 'bench' || (:u)::text, 'tools/call', 'write_resource', 'tenant://bt' || (:t)::text || '/load/p' || (:u)::text,
        'allow', 'execute', 'updated', 2);
COMMIT;
