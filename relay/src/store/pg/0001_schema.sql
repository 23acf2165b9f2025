-- chatdesk schema, version 1. Applied once by `relay migrate` (or at start-up), in one
-- transaction, by the role the relay logs in as (it owns the tables).
--
-- Registry tables (partners, tenants, agents, once_records, deletions) hold no tenant
-- data and are read only by the relay's own role: `chatdesk_tenant` has no rights on them.
-- Every tenant table has `tenant_id` first in its primary key, row-level security enabled
-- and forced, and one policy for `chatdesk_tenant` on `current_setting('app.tenant_id',
-- true)`. Cross-tenant reads (routing a webhook, heads at start-up) run as `chatdesk_ops`,
-- which may only SELECT routes, channels and heads.

DO $$ BEGIN
    CREATE ROLE chatdesk_tenant NOLOGIN NOBYPASSRLS NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$ BEGIN
    CREATE ROLE chatdesk_ops NOLOGIN NOBYPASSRLS NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE TABLE partners (
    id         text PRIMARY KEY,
    created_at bigint NOT NULL,
    body       bytea NOT NULL
);

CREATE TABLE tenants (
    id         text PRIMARY KEY,
    partner_id text NOT NULL,
    created_at bigint NOT NULL,
    body       bytea NOT NULL
);
CREATE INDEX tenants_by_partner ON tenants (partner_id, created_at, id);

-- `tenant` is NULL for a partner's viewers; the token itself is never stored.
CREATE TABLE agents (
    id         text PRIMARY KEY,
    tenant     text,
    created_at bigint NOT NULL,
    token_hash text NOT NULL,
    revoked    boolean NOT NULL DEFAULT false,
    body       bytea NOT NULL
);
CREATE INDEX agents_by_token ON agents (token_hash) WHERE NOT revoked;
CREATE INDEX agents_by_tenant ON agents (tenant, created_at, id);

CREATE TABLE once_records (
    key        text PRIMARY KEY,
    expires_at bigint NOT NULL,
    body       bytea NOT NULL
);

CREATE TABLE deletions (
    code text PRIMARY KEY,
    body bytea NOT NULL
);

-- One row per tenant: the head of its log (locked by every writing step, so sequence
-- numbers stay gap-free however many relays write), credits, settings, knowledge.
CREATE TABLE tenant_heads (
    tenant_id text PRIMARY KEY,
    seq       bigint NOT NULL DEFAULT 0,
    hash      bytea,
    credits   bigint NOT NULL DEFAULT 0,
    settings  bytea,
    knowledge text
);

-- The event log: each event with its audit record (bincode of both).
CREATE TABLE events (
    tenant_id text NOT NULL,
    seq       bigint NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Meta's identity of an item: a second delivery is refused by this key.
CREATE TABLE dedup (
    tenant_id text NOT NULL,
    key       text NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE threads (
    tenant_id text NOT NULL,
    thread_id text NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (tenant_id, thread_id)
);

CREATE TABLE messages (
    tenant_id   text NOT NULL,
    mid         text NOT NULL,
    thread_id   text NOT NULL,
    occurred_at bigint NOT NULL,
    seq         bigint NOT NULL,
    body        bytea NOT NULL,
    PRIMARY KEY (tenant_id, mid)
);
CREATE INDEX messages_by_thread ON messages (tenant_id, thread_id, occurred_at, seq);

CREATE TABLE sends (
    tenant_id text NOT NULL,
    send_seq  bigint NOT NULL,
    thread_id text NOT NULL,
    finished  boolean NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (tenant_id, send_seq)
);
CREATE INDEX sends_by_thread ON sends (tenant_id, thread_id, send_seq);
CREATE INDEX sends_unfinished ON sends (tenant_id, send_seq) WHERE NOT finished;

-- The first answer to an agent's command key (idempotency).
CREATE TABLE answers (
    tenant_id text NOT NULL,
    agent_id  text NOT NULL,
    key       text NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, key)
);

CREATE TABLE channel_activity (
    tenant_id  text NOT NULL,
    channel_id text NOT NULL,
    at         bigint NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

CREATE TABLE channels (
    tenant_id  text NOT NULL,
    channel_id text NOT NULL,
    body       bytea NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

-- Webhook account ids → channel. An account routes to one channel of the whole relay:
-- the unique index holds across tenants (constraints are not filtered by row security).
CREATE TABLE routes (
    tenant_id  text NOT NULL,
    route      text NOT NULL,
    channel_id text NOT NULL,
    PRIMARY KEY (tenant_id, route)
);
CREATE UNIQUE INDEX routes_unique ON routes (route);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_heads', 'events', 'dedup', 'threads', 'messages',
                             'sends', 'answers', 'channel_activity', 'channels', 'routes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO chatdesk_tenant '
                       'USING (tenant_id = current_setting(''app.tenant_id'', true)) '
                       'WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO chatdesk_tenant', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['tenant_heads', 'channels', 'routes']
    LOOP
        EXECUTE format('CREATE POLICY ops_read ON %I FOR SELECT TO chatdesk_ops USING (true)', t);
        EXECUTE format('GRANT SELECT ON %I TO chatdesk_ops', t);
    END LOOP;
END $$;
GRANT SELECT ON tenants TO chatdesk_ops;

-- The relay's own role switches into both for its transactions.
GRANT chatdesk_tenant TO CURRENT_USER;
GRANT chatdesk_ops TO CURRENT_USER;
