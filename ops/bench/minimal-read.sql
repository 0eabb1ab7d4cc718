-- The pgbench reference for a charged read_resource: the minimal transaction of the same work
-- as one `rampart serve` call — a rate-counter upsert, a conditional budget debit, the document
-- read by primary key and the audit insert (whose trigger queues it for the sealer) — in ONE
-- transaction, prepared. :t tenant, :u user.
\set t random(0, :tenants - 1)
\set u random(0, 9)
BEGIN;
INSERT INTO rampart.rate_limit_cells AS c (tenant_id, cell, tat) VALUES ('bt' || (:t)::text, 'user-bench' || (:u)::text, clock_timestamp())
ON CONFLICT (tenant_id, cell) DO UPDATE SET tat = greatest(c.tat, clock_timestamp()) + interval '1 ms';
INSERT INTO rampart.budget_usage AS b (tenant_id, issuer, subject, day, spent)
VALUES ('bt' || (:t)::text, '', '', (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (tenant_id, issuer, subject, day) DO UPDATE SET spent = b.spent + 1
WHERE b.spent + 1 <= 1000000000000;
SELECT body::text, version FROM rampart.documents WHERE tenant_id = 'bt' || (:t)::text AND collection = 'sales' AND id = 'q1';
INSERT INTO rampart.audit_events (tenant_id, request_id, subject, method, tool, resource, decision, layer, reason, cost)
VALUES ('bt' || (:t)::text, 'bench', 'bench' || (:u)::text, 'tools/call', 'read_resource', 'tenant://bt' || (:t)::text || '/sales/q1',
        'allow', 'execute', 'read', 1);
COMMIT;
