-- What /-/v1/search shows of each live package. text is the lower-case
-- name, description and keywords (newline-separated) that search words
-- must be substrings of: the pg_trgm GIN index serves those LIKE '%w%'
-- filters. keywords (lower case) and people (maintainer and publisher
-- user names) serve the keywords: and maintainer: qualifiers.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_entries (
    name     text COLLATE "C" PRIMARY KEY,
    lname    text NOT NULL,
    entry    jsonb NOT NULL,
    text     text NOT NULL,
    keywords text[] NOT NULL,
    people   text[] NOT NULL
);

CREATE INDEX search_entries_text ON search_entries USING gin (text gin_trgm_ops);
CREATE INDEX search_entries_keywords ON search_entries USING gin (keywords);
CREATE INDEX search_entries_people ON search_entries USING gin (people);
