DROP INDEX documents_similar;
DROP FUNCTION bun13_similar(text);
DROP TRIGGER documents_stats ON documents;
DROP FUNCTION bun13_documents_stats();
DROP TABLE document_stats;
DROP TRIGGER documents_measure ON documents;
DROP FUNCTION bun13_documents_measure();
ALTER TABLE documents DROP COLUMN live_versions, DROP COLUMN live_bytes;
