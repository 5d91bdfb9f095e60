-- One row per package: its document and a revision counter that every
-- write bumps (compare-and-swap compares it).
CREATE TABLE documents (
    name    text COLLATE "C" PRIMARY KEY,
    rev     bigint NOT NULL CHECK (rev > 0),
    doc     bytea NOT NULL,
    updated timestamptz NOT NULL DEFAULT now()
);

-- Every committed write, by this store or anyone else (psql, a migration
-- tool), is announced on channel bun13_documents as "REV NAME", so every
-- replica's caches can drop the old copy.
CREATE FUNCTION bun13_documents_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bun13_documents', NEW.rev::text || ' ' || NEW.name);
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_notify
    AFTER INSERT OR UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION bun13_documents_notify();
