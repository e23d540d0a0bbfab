-- Recordings kept in the database rather than in the data directory, so that every instance sharing
-- it reads every session's recording (CHANGEGATE_RECORDING_STORE=database). Each flush of a
-- session's recorder (about once a second) appends one chunk; the recording is the chunks' bytes
-- in seq order. No foreign key to session: the recording's header is written before the session
-- row is stored, as a recording file is created before it.
CREATE TABLE recording_chunk (
  session_id uuid NOT NULL,
  seq integer NOT NULL,
  data bytea NOT NULL,
  written_at timestamptz NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- Which store holds the session's recording, fixed when the session starts and changed only by
-- `changegate recordings migrate`: after the setting changes, older recordings are still read from
-- where they are. `recording_path` is the location within that store (a file's path; the session's
-- id in the database).
ALTER TABLE session ADD COLUMN recording_store text NOT NULL DEFAULT 'files' CHECK (recording_store IN ('files', 'database'));
