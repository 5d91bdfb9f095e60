DROP TRIGGER IF EXISTS documents_notify ON documents;
DROP FUNCTION IF EXISTS bun13_documents_notify();
DROP TABLE IF EXISTS documents;
