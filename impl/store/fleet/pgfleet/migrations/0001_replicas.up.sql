-- The last heartbeat of each registry replica. seen is stamped by the
-- database's clock, so replicas with skewed clocks compare fairly.
CREATE TABLE replicas (
    id      text COLLATE "C" PRIMARY KEY,
    version text NOT NULL,
    config  bytea NOT NULL CHECK (length(config) = 13),
    started timestamptz NOT NULL,
    seen    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replicas_seen ON replicas (seen);
