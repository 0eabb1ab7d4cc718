-- Rampart 002: the tenant tables and the row-level-security wall.
--
-- Every table with a tenant_id column is a tenant table: tenant_id leads its primary key, RLS is
-- ENABLED and FORCED, and the policy compares tenant_id with the transaction-local setting
-- rampart.tenant_id. The setting is read inside (select ...) so it is evaluated once per query and
-- the primary-key index is used. nullif(..., '') matters: once a session has used the setting, it
-- reads back as '' (not NULL) outside the transaction that set it.
SET LOCAL ROLE rampart_owner;

CREATE TABLE rampart.tenants (
    tenant_id  text        PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rampart.tenant_scopes (
    tenant_id  text        NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    scope      text        NOT NULL CHECK (scope IN ('resources:read', 'resources:search',
                                                     'resources:write', 'resources:query', 'pii:read')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, scope)
);

CREATE TABLE rampart.tenant_limits (
    tenant_id                          text      PRIMARY KEY REFERENCES rampart.tenants ON DELETE CASCADE,
    tenant_per_minute                  integer   NOT NULL DEFAULT 1000 CHECK (tenant_per_minute > 0),
    user_per_minute                    integer   NOT NULL DEFAULT 100 CHECK (user_per_minute > 0),
    conversation_per_minute            integer   NOT NULL DEFAULT 50 CHECK (conversation_per_minute > 0),
    resource_per_minute                integer   NOT NULL DEFAULT 20 CHECK (resource_per_minute > 0),
    conversations_per_user_per_minute  integer   NOT NULL DEFAULT 5 CHECK (conversations_per_user_per_minute > 0),
    max_resources_per_conversation     integer   NOT NULL DEFAULT 100 CHECK (max_resources_per_conversation > 0),
    conversation_idle_seconds          integer   NOT NULL DEFAULT 1800 CHECK (conversation_idle_seconds > 0),
    conversation_lifetime_seconds      integer   NOT NULL DEFAULT 28800 CHECK (conversation_lifetime_seconds > 0),
    default_scope                      text[],   -- NULL means tenant://{tenant}/*
    pii_detection                      boolean   NOT NULL DEFAULT false,
    updated_at                         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rampart.documents (
    tenant_id  text        NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    collection text        NOT NULL CHECK (collection ~ '^[a-z][a-z0-9_]{0,62}$'),
    id         text        NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    body       jsonb       NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    version    bigint      NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    search     tsvector    GENERATED ALWAYS AS (jsonb_to_tsvector('english'::regconfig, body, '["string"]')) STORED,
    PRIMARY KEY (tenant_id, collection, id)
);
CREATE INDEX documents_search ON rampart.documents USING gin (search);

CREATE TABLE rampart.redaction_rules (
    tenant_id    text NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    collection   text NOT NULL CHECK (collection ~ '^[a-z][a-z0-9_]{0,62}$'),
    field        text NOT NULL CHECK (field ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,15}$'),
    action       text NOT NULL CHECK (action IN ('redact', 'remove', 'mask')),
    unless_scope text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, collection, field)
);

-- A conversation is a handshake-era session, a stateless-era handle, or a token's implicit one.
CREATE TABLE rampart.conversations (
    tenant_id        text        NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    conversation_id  text        NOT NULL CHECK (conversation_id ~ '^[A-Za-z0-9_-]{16,128}$'),
    kind             text        NOT NULL CHECK (kind IN ('session', 'handle', 'implicit')),
    issuer           text        NOT NULL,
    subject          text        NOT NULL,
    protocol_version text,
    scope            text[]      NOT NULL,
    purpose          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX conversations_principal ON rampart.conversations (tenant_id, issuer, subject, created_at);

CREATE TABLE rampart.conversation_resources (
    tenant_id       text        NOT NULL,
    conversation_id text        NOT NULL,
    uri             text        NOT NULL,
    first_used_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, conversation_id, uri),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES rampart.conversations ON DELETE CASCADE
);

-- GCRA cells: losing them in a crash only forgets recent rate, so they skip the WAL.
CREATE UNLOGGED TABLE rampart.rate_limit_cells (
    tenant_id text        NOT NULL,
    cell      text        NOT NULL,
    tat       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, cell)
);

-- Daily budgets: subject '' is the whole tenant, any other value one user.
CREATE TABLE rampart.budgets (
    tenant_id   text   NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    subject     text   NOT NULL DEFAULT '',
    daily_limit bigint NOT NULL CHECK (daily_limit >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject)
);

CREATE TABLE rampart.budget_usage (
    tenant_id text   NOT NULL,
    subject   text   NOT NULL DEFAULT '',
    day       date   NOT NULL,
    spent     bigint NOT NULL DEFAULT 0 CHECK (spent >= 0),
    PRIMARY KEY (tenant_id, subject, day)
);

-- Costs: the global defaults (not tenant data) and per-tenant overrides.
CREATE TABLE rampart.default_costs (
    operation text    PRIMARY KEY CHECK (operation ~ '^[a-z][a-z0-9_/]{0,63}$'),
    units     integer NOT NULL CHECK (units >= 0)
);
INSERT INTO rampart.default_costs (operation, units) VALUES
    ('read_resource', 1), ('list_resources', 5), ('search_resources', 10),
    ('write_resource', 2), ('execute_query', 20), ('open_conversation', 0);

CREATE TABLE rampart.operation_costs (
    tenant_id text    NOT NULL REFERENCES rampart.tenants ON DELETE CASCADE,
    operation text    NOT NULL CHECK (operation ~ '^[a-z][a-z0-9_/]{0,63}$'),
    units     integer NOT NULL CHECK (units >= 0),
    PRIMARY KEY (tenant_id, operation)
);

-- Audit events are append-only: no role but the owner may change them, and the hash chain
-- (docs/audit.md) makes any change by a superuser evident.
CREATE TABLE rampart.audit_events (
    tenant_id    text        NOT NULL,
    event_id     bigint      GENERATED ALWAYS AS IDENTITY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id   text,
    subject      text,
    conversation text,
    method       text,
    tool         text,
    resource     text,
    decision     text        NOT NULL CHECK (decision IN ('allow', 'deny')),
    layer        text        NOT NULL CHECK (layer IN ('auth', 'context', 'rate', 'budget', 'sanitize',
                                                       'access', 'execute', 'admin')),
    reason       text,
    cost         bigint      NOT NULL DEFAULT 0,
    actor_role   text        NOT NULL DEFAULT session_user,
    details      jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX audit_events_at ON rampart.audit_events (at);

-- The wall, applied the same way to every tenant table.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'rampart' AND c.relkind = 'r'
    LOOP
        EXECUTE format('ALTER TABLE rampart.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE rampart.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON rampart.%I '
            'USING (tenant_id = (SELECT nullif(current_setting(''rampart.tenant_id'', true), ''''))) '
            'WITH CHECK (tenant_id = (SELECT nullif(current_setting(''rampart.tenant_id'', true), '''')))',
            t);
        -- The owner runs migrations and the SECURITY DEFINER provisioning functions; it could
        -- disable RLS anyway, so this policy hides nothing from it that it could not see.
        EXECUTE format('CREATE POLICY owner_access ON rampart.%I TO rampart_owner USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

-- What the server role may do: read configuration, work on documents and conversations,
-- keep limits and budgets, and append audit events. Nothing else, and never DELETE documents.
GRANT SELECT ON rampart.tenants, rampart.tenant_scopes, rampart.tenant_limits, rampart.redaction_rules,
                rampart.default_costs, rampart.operation_costs, rampart.budgets
    TO rampart_app;
GRANT SELECT, INSERT, UPDATE ON rampart.documents TO rampart_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON rampart.conversations, rampart.conversation_resources,
                                        rampart.rate_limit_cells
    TO rampart_app;
GRANT SELECT, INSERT, UPDATE ON rampart.budget_usage TO rampart_app;
GRANT SELECT, INSERT ON rampart.audit_events TO rampart_app, rampart_admin;
