-- chatdesk schema, version 5: what lets a relay ingest a webhook in one round trip
-- (store/pg.rs, "fast path").
--
-- `route_generation`: one counter, raised by every statement that changes `routes` or
-- `channels` (a trigger, in the same transaction), so a relay may answer routing from
-- memory and check, inside the tenant step that stores the webhook, that routes have not
-- changed since it read them (`chatdesk_routes_at`). No tenant data: readable by both
-- roles, written only through the trigger.
CREATE TABLE route_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    gen      bigint NOT NULL
);
INSERT INTO route_generation (only_row, gen) VALUES (true, 0);
GRANT SELECT ON route_generation TO chatdesk_tenant, chatdesk_ops;

CREATE FUNCTION chatdesk_routes_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE route_generation SET gen = gen + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER routes_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routes
    FOR EACH STATEMENT EXECUTE FUNCTION chatdesk_routes_changed();
CREATE TRIGGER channels_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
    FOR EACH STATEMENT EXECUTE FUNCTION chatdesk_routes_changed();

-- Fails the transaction (SQLSTATE CDR01) unless every generation in `expected` is the
-- current one: the webhook was routed from an answer that may be stale, route it again.
CREATE FUNCTION chatdesk_routes_at(expected bigint[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM route_generation g, unnest(expected) e WHERE e <> g.gen) THEN
        RAISE EXCEPTION 'routes changed' USING ERRCODE = 'CDR01';
    END IF;
END $$;

-- `stamp`: a random number every writing tenant step sets, so a relay that wrote last knows
-- that nothing of the tenant changed since (any other write sets another stamp; a head row
-- created anew has none).
ALTER TABLE tenant_heads ADD COLUMN stamp bigint;

-- Moves the head to (`new_seq`, `new_hash`) with `new_stamp` and queues the commit's notice
-- (delivered on commit only). With `expected` (the fast path, which took no lock first), it
-- fails the transaction (SQLSTATE CDH01) unless the head row still carries that stamp and
-- the head the writes continue (`from_seq`); the UPDATE takes the head row's lock, so a
-- concurrent writer of the tenant is waited for and then seen. Runs as the caller
-- (`chatdesk_tenant`, under row security).
CREATE FUNCTION chatdesk_advance(t text, expected bigint, from_seq bigint, new_seq bigint,
                                 new_hash bytea, new_stamp bigint, notice text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenant_heads SET seq = COALESCE(new_seq, seq), hash = COALESCE(new_hash, hash),
                            stamp = new_stamp
     WHERE tenant_id = t
       AND (expected IS NULL OR (stamp = expected AND seq = from_seq));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant head moved' USING ERRCODE = 'CDH01';
    END IF;
    IF notice IS NOT NULL THEN
        PERFORM pg_notify('chatdesk_events', notice);
    END IF;
END $$;
