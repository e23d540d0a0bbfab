-- Foundation: partitions, applications, users, privileges, tokens, web sessions, SSH keys, event log.

CREATE TABLE partition (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text NOT NULL DEFAULT '',
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL
);

CREATE TABLE application (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name)
);

CREATE TABLE app_user (
  id uuid PRIMARY KEY,
  username text NOT NULL UNIQUE,
  display_name text NOT NULL,
  email text,
  time_zone text NOT NULL DEFAULT 'UTC',
  password_hash text,
  disabled_at timestamptz,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  totp_secret text,
  totp_enabled_at timestamptz,
  totp_last_step bigint,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL
);

CREATE TABLE privilege_grant (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  privilege text NOT NULL,
  level text NOT NULL CHECK (level IN ('access', 'admin')),
  partition_id uuid REFERENCES partition (id) ON DELETE CASCADE,
  granted_at timestamptz NOT NULL,
  granted_by text NOT NULL
);
-- One grant per user, privilege and scope; a NULL partition means system-wide.
CREATE UNIQUE INDEX privilege_grant_scope ON privilege_grant
  (user_id, privilege, COALESCE(partition_id, '00000000-0000-0000-0000-000000000000'::uuid));

CREATE TABLE api_token (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  name text NOT NULL,
  prefix text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_token_user ON api_token (user_id);

CREATE TABLE web_session (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  csrf_token text NOT NULL,
  source_ip text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL
);
CREATE INDEX web_session_user ON web_session (user_id);

CREATE TABLE ssh_public_key (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  name text NOT NULL,
  algorithm text NOT NULL,
  key_data text NOT NULL,
  fingerprint text NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (user_id, fingerprint)
);

-- The tamper-evident event log. Rows are only ever inserted, in sequence, under an advisory lock.
CREATE TABLE event (
  seq bigint PRIMARY KEY,
  time timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  data jsonb NOT NULL,
  leaf_hash text NOT NULL,
  chain_hash text NOT NULL
);
CREATE INDEX event_time ON event (time);
CREATE INDEX event_action ON event (action);

CREATE FUNCTION event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event log is append-only: % on event is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
  FOR EACH ROW EXECUTE FUNCTION event_refuse_change();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
  FOR EACH STATEMENT EXECUTE FUNCTION event_refuse_change();
