-- Registry statistics without reading every document: each row records
-- the live versions and tarball bytes of its document (a registry
-- document: "versions", "sizes", "unpublished"; anything else counts as
-- nothing), and one row of document_stats keeps the totals, moved by
-- every write. So the package and version gauges of every replica are
-- one primary-key read, whatever the number of packages.
ALTER TABLE documents
    ADD COLUMN live_versions integer NOT NULL DEFAULT 0,
    ADD COLUMN live_bytes bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bun13_documents_measure() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
BEGIN
    NEW.live_versions := 0;
    NEW.live_bytes := 0;
    BEGIN
        j := convert_from(NEW.doc, 'UTF8')::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NEW; -- not a JSON document: nothing live
    END;
    IF jsonb_typeof(j) <> 'object'
       OR jsonb_typeof(j->'unpublished') = 'object'
       OR jsonb_typeof(j->'versions') IS DISTINCT FROM 'object' THEN
        RETURN NEW;
    END IF;
    SELECT count(*) INTO NEW.live_versions FROM jsonb_object_keys(j->'versions');
    IF jsonb_typeof(j->'sizes') = 'object' THEN
        SELECT coalesce(sum(CASE WHEN jsonb_typeof(value) = 'number' THEN (value::text)::numeric ELSE 0 END), 0)::bigint
          INTO NEW.live_bytes FROM jsonb_each(j->'sizes');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER documents_measure
    BEFORE INSERT OR UPDATE OF doc ON documents
    FOR EACH ROW EXECUTE FUNCTION bun13_documents_measure();

-- Measure the documents already stored (the NOTIFY trigger fires too,
-- which only makes caches revalidate).
UPDATE documents SET doc = doc;

CREATE TABLE document_stats (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    packages bigint NOT NULL,
    versions bigint NOT NULL,
    bytes    bigint NOT NULL
);

INSERT INTO document_stats
SELECT true, count(*) FILTER (WHERE live_versions > 0),
       coalesce(sum(live_versions), 0), coalesce(sum(live_bytes), 0)
  FROM documents;

CREATE FUNCTION bun13_documents_stats() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    dp bigint := (NEW.live_versions > 0)::int;
    dv bigint := NEW.live_versions;
    db bigint := NEW.live_bytes;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        dp := dp - (OLD.live_versions > 0)::int;
        dv := dv - OLD.live_versions;
        db := db - OLD.live_bytes;
    END IF;
    IF dp <> 0 OR dv <> 0 OR db <> 0 THEN
        UPDATE document_stats SET packages = packages + dp,
            versions = versions + dv, bytes = bytes + db;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_stats
    AFTER INSERT OR UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION bun13_documents_stats();

-- The look-alike rule (pkgname.Similar: the bare name lower-cased
-- without '.', '-' and '_', the scope kept as it is) as an index, so a
-- replica checks a new name against every stored one with one probe.
CREATE FUNCTION bun13_similar(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN name LIKE '@%/%'
        THEN split_part(name, '/', 1) || '/' || translate(lower(split_part(name, '/', 2) COLLATE "C"), '.-_', '')
        ELSE translate(lower(name COLLATE "C"), '.-_', '')
    END
$$;

CREATE INDEX documents_similar ON documents (bun13_similar(name));
