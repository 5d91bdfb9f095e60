-- The registry's auth state, shared by every replica. Table names carry
-- an auth_ prefix so they sit beside the other stores' tables in one
-- database.

CREATE TABLE auth_users (
    name             text COLLATE "C" PRIMARY KEY,
    hash             text NOT NULL,               -- bcrypt
    role             text NOT NULL CHECK (role IN ('read', 'publish', 'admin')),
    created          timestamptz NOT NULL,
    password_changed timestamptz                  -- NULL: never changed
);

-- Records of issued tokens (npm's token API). key is the hex SHA-512 of
-- the token, so the token itself is never stored.
CREATE TABLE auth_tokens (
    key      text COLLATE "C" PRIMARY KEY,
    jti      text NOT NULL,
    username text NOT NULL,
    role     text NOT NULL CHECK (role IN ('read', 'publish', 'admin')),
    created  timestamptz NOT NULL,
    expires  timestamptz                  -- NULL: never
);
CREATE INDEX auth_tokens_user ON auth_tokens (username, created);
CREATE INDEX auth_tokens_jti ON auth_tokens (jti);
CREATE INDEX auth_tokens_expires ON auth_tokens (expires);

CREATE TABLE auth_revocations (
    jti     text COLLATE "C" PRIMARY KEY,
    expires timestamptz,                          -- NULL: kept for ever
    revoked timestamptz NOT NULL,
    -- auth_versions' version of the statement that wrote the row, so a
    -- replica reads only what changed since its copy.
    version bigint NOT NULL DEFAULT 0
);
CREATE INDEX auth_revocations_version ON auth_revocations (version);
CREATE INDEX auth_revocations_expires ON auth_revocations (expires);

CREATE TABLE auth_scopes (
    name    text COLLATE "C" PRIMARY KEY,
    owner   text NOT NULL,
    origin  text NOT NULL,
    created timestamptz NOT NULL
);

CREATE TABLE auth_scope_members (
    scope    text COLLATE "C" NOT NULL REFERENCES auth_scopes (name) ON DELETE CASCADE,
    username text COLLATE "C" NOT NULL,
    PRIMARY KEY (scope, username)
);

-- The public half of every replica's signing key. A retired key is
-- removed from every replica's key set.
CREATE TABLE auth_signing_keys (
    kid        text COLLATE "C" PRIMARY KEY,
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    created    timestamptz NOT NULL DEFAULT now(),
    retired    timestamptz
);

-- Who signs with which key, and when they said so last (heartbeat, by
-- the database's clock). No trigger: heartbeats change no key set.
CREATE TABLE auth_key_replicas (
    kid       text COLLATE "C" NOT NULL REFERENCES auth_signing_keys (kid) ON DELETE CASCADE,
    replica   text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kid, replica)
);

-- One counter per cached table, bumped by every statement that changes
-- it (before the statement, so the row lock orders commits), announced
-- with NOTIFY on channel bun13_auth as "TABLE VERSION". A replica whose
-- copy is at an older version reloads that table. Writes by psql or any
-- tool count too.
CREATE TABLE auth_versions (
    name    text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO auth_versions (name, version) VALUES
    ('auth_users', 1), ('auth_revocations', 1), ('auth_scopes', 1),
    ('auth_scope_members', 1), ('auth_signing_keys', 1);

CREATE FUNCTION bun13_auth_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE auth_versions SET version = version + 1 WHERE name = TG_TABLE_NAME
        RETURNING version INTO v;
    PERFORM pg_notify('bun13_auth', TG_TABLE_NAME || ' ' || v::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER auth_users_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_users
    FOR EACH STATEMENT EXECUTE FUNCTION bun13_auth_bump();
CREATE TRIGGER auth_revocations_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_revocations
    FOR EACH STATEMENT EXECUTE FUNCTION bun13_auth_bump();
CREATE TRIGGER auth_scopes_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION bun13_auth_bump();
CREATE TRIGGER auth_scope_members_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_scope_members
    FOR EACH STATEMENT EXECUTE FUNCTION bun13_auth_bump();
CREATE TRIGGER auth_signing_keys_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON auth_signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bun13_auth_bump();


-- Revocations are read incrementally: the rows whose version is newer
-- than a replica's copy (a removal shows as a smaller count, and then
-- the replica reads the whole table).
CREATE FUNCTION bun13_auth_revocation_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := (SELECT version FROM auth_versions WHERE name = 'auth_revocations');
    RETURN NEW;
END
$$;
CREATE TRIGGER auth_revocations_version BEFORE INSERT OR UPDATE ON auth_revocations
    FOR EACH ROW EXECUTE FUNCTION bun13_auth_revocation_version();
