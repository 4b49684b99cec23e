-- Finished tickets that left Redis. One table for every namespace (a deployment's, or a test's), each
-- record the field map Redis held; finished_at drives the retention.
CREATE TABLE ticket_archive (
    namespace   text        NOT NULL,
    ticket_id   text        NOT NULL,
    finished_at timestamptz NOT NULL,
    fields      jsonb       NOT NULL,
    PRIMARY KEY (namespace, ticket_id)
);
CREATE INDEX ticket_archive_finished_at ON ticket_archive (finished_at);
