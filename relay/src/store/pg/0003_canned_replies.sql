-- chatdesk schema, version 3: canned replies, per tenant, by shortcut. A tenant table like
-- the others: tenant_id first in the key, row-level security enabled and forced.
CREATE TABLE canned_replies (
    tenant_id text NOT NULL,
    shortcut  text NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (tenant_id, shortcut)
);
ALTER TABLE canned_replies ENABLE ROW LEVEL SECURITY;
ALTER TABLE canned_replies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON canned_replies TO chatdesk_tenant
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON canned_replies TO chatdesk_tenant;
