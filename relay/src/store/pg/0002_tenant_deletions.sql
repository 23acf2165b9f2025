-- chatdesk schema, version 2: the records tenant deletions leave. Registry data like
-- `deletions`: it outlives the tenant (who, when, the chain's last head, counts), holds no
-- contents and no tokens, and `chatdesk_tenant` has no rights on it.
CREATE TABLE tenant_deletions (
    tenant     text PRIMARY KEY,
    deleted_at bigint NOT NULL,
    body       bytea NOT NULL
);
