-- Rampart 001: group roles, the schema, and the migration ledger.
--
-- Roles are cluster-wide, so they are created only when missing. Login roles are mapped onto
-- them by the DBA (docs/operations.md):
--   CREATE ROLE rampart_server LOGIN PASSWORD '...' IN ROLE rampart_app;    -- rampart serve
--   CREATE ROLE alice_admin   LOGIN PASSWORD '...' IN ROLE rampart_admin;  -- rampart admin
-- Run this file as a superuser (or a role with CREATEROLE that is a member of rampart_owner).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rampart_owner') THEN
        CREATE ROLE rampart_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rampart_app') THEN
        CREATE ROLE rampart_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rampart_admin') THEN
        CREATE ROLE rampart_admin NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS rampart AUTHORIZATION rampart_owner;
REVOKE ALL ON SCHEMA rampart FROM PUBLIC;
GRANT USAGE ON SCHEMA rampart TO rampart_app, rampart_admin;

SET LOCAL ROLE rampart_owner;

CREATE TABLE rampart.schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT session_user
);
GRANT SELECT ON rampart.schema_migrations TO rampart_app, rampart_admin;
