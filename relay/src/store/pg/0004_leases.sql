-- chatdesk schema, version 4: leases, so scheduled work runs on one relay at a time when
-- several share this database (a tenant's outbox, the token refresher, the sweeps). A row
-- names its job, the relay holding it and when that lapses, in relay time (Unix ms). A
-- registry table: no tenant data (a tenant's outbox lease names the tenant id only), and
-- `chatdesk_tenant` has no rights on it.
CREATE TABLE leases (
    job        text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at bigint NOT NULL
);
