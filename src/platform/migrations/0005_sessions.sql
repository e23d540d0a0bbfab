-- Brokered sessions, their recordings and the commands captured in them.

CREATE SEQUENCE session_number;

CREATE TABLE session (
  id uuid PRIMARY KEY,
  number bigint NOT NULL UNIQUE DEFAULT nextval('session_number'),
  kind text NOT NULL CHECK (kind IN ('shell', 'exec', 'web')),
  user_id uuid NOT NULL REFERENCES app_user (id),
  username text NOT NULL,
  source_ip text NOT NULL,
  source_port integer,
  device_id uuid NOT NULL REFERENCES device (id),
  device_name text NOT NULL,
  partition_id uuid NOT NULL REFERENCES partition (id),
  account text NOT NULL,
  change_id uuid NOT NULL REFERENCES change (id),
  change_name text NOT NULL,
  request_id uuid NOT NULL REFERENCES access_request (id),
  exec_command text,
  term text,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  end_reason text CHECK (end_reason IN ('client_closed', 'due_date_reached', 'terminated', 'upstream_failed', 'gateway_stopped', 'interrupted')),
  ended_by text,
  exit_status integer,
  bytes_in bigint NOT NULL DEFAULT 0,
  bytes_out bigint NOT NULL DEFAULT 0,
  recording_path text NOT NULL,
  recording_sha256 text,
  capture_lossy boolean NOT NULL DEFAULT false,
  -- Which Changegate instance runs the session, and when it last said so: a crashed instance's
  -- sessions are found and marked interrupted.
  instance_id text NOT NULL,
  heartbeat_at timestamptz NOT NULL
);
CREATE INDEX session_by_change ON session (change_id, started_at);
CREATE INDEX session_by_user ON session (user_id, started_at);
CREATE INDEX session_by_device ON session (device_id, started_at);
CREATE INDEX session_open ON session (ended_at) WHERE ended_at IS NULL;

CREATE TABLE session_command (
  session_id uuid NOT NULL REFERENCES session (id),
  seq integer NOT NULL,
  time timestamptz NOT NULL,
  offset_seconds double precision NOT NULL,
  text text NOT NULL,
  output text NOT NULL DEFAULT '',
  output_truncated boolean NOT NULL DEFAULT false,
  exit_status integer,
  PRIMARY KEY (session_id, seq)
);
