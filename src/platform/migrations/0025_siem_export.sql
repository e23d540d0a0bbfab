-- The export of the event log to a SIEM (docs/siem.md): per sink, the last entry the sink accepted.
-- The exporter advances it only after the sink took the batch (a file: written and fsync'd; syslog:
-- written to the connection, which stayed up), so a restart or an outage resumes after it, and
-- only ever sends an entry again, never skips one. Keyed by the sink as configured: a new sink is
-- sent the whole log from its first entry.
CREATE TABLE siem_export (
  sink text PRIMARY KEY,
  acked_seq bigint NOT NULL,
  acked_at timestamptz NOT NULL
);

-- Wakes the exporter, on whichever instance holds its lease, as soon as entries are committed
-- (LISTEN event_appended): one notification per statement, delivered at commit, never on rollback.
-- The exporter also polls, so a notification lost with a connection only delays an entry.
CREATE FUNCTION event_appended_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('event_appended', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER event_appended AFTER INSERT ON event FOR EACH STATEMENT EXECUTE FUNCTION event_appended_notify();
