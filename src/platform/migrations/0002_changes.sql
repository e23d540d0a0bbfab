-- Inventory (devices, vaulted credentials) and the change workflow (access groups, changes, requests).

CREATE TABLE device (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  application_id uuid REFERENCES application (id),
  hostname text NOT NULL,
  port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  protocol text NOT NULL CHECK (protocol IN ('ssh')),
  description text NOT NULL DEFAULT '',
  tags jsonb NOT NULL DEFAULT '[]',
  -- The pinned SSH host key, as an OpenSSH public key line, and its SHA256 fingerprint.
  host_key text,
  host_key_fingerprint text,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name)
);
CREATE INDEX device_name ON device (name);

CREATE TABLE credential (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  application_id uuid REFERENCES application (id),
  device_id uuid NOT NULL REFERENCES device (id),
  account text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('password', 'private_key')),
  -- Sealed by the vault (AES-256-GCM); each value names the key that sealed it.
  secret text NOT NULL,
  passphrase text,
  description text NOT NULL DEFAULT '',
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name),
  UNIQUE (device_id, account)
);

CREATE TABLE access_group (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  application_id uuid REFERENCES application (id),
  description text NOT NULL DEFAULT '',
  executors jsonb NOT NULL DEFAULT '[]',
  approvers jsonb NOT NULL DEFAULT '[]',
  requires_justification boolean NOT NULL DEFAULT false,
  approvals_required integer NOT NULL DEFAULT 1 CHECK (approvals_required >= 1),
  planner_may_execute boolean NOT NULL DEFAULT true,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name)
);

CREATE TABLE change (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  -- The change ID the planner enters, such as CHG-2026-042: unique across partitions.
  name text NOT NULL UNIQUE,
  application_id uuid REFERENCES application (id),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  start_at timestamptz NOT NULL,
  due_at timestamptz NOT NULL,
  access_group_id uuid NOT NULL REFERENCES access_group (id),
  devices jsonb NOT NULL,
  script text NOT NULL,
  cancelled_at timestamptz,
  cancelled_by text,
  cancel_reason text,
  -- Set when the first session of the change starts: from then on the script cannot change.
  script_frozen_at timestamptz,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  CHECK (due_at > start_at)
);
CREATE INDEX change_window ON change (start_at, due_at);

CREATE SEQUENCE access_request_number;

CREATE TABLE access_request (
  id uuid PRIMARY KEY,
  number bigint NOT NULL UNIQUE DEFAULT nextval('access_request_number'),
  change_id uuid NOT NULL REFERENCES change (id),
  device_id uuid NOT NULL REFERENCES device (id),
  requester_id uuid NOT NULL REFERENCES app_user (id),
  justification text,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
  created_at timestamptz NOT NULL,
  decided_at timestamptz,
  closed_at timestamptz,
  close_reason text
);
CREATE INDEX access_request_lookup ON access_request (change_id, device_id, requester_id);
CREATE INDEX access_request_status ON access_request (status);

CREATE TABLE request_decision (
  request_id uuid NOT NULL REFERENCES access_request (id),
  approver_id uuid NOT NULL REFERENCES app_user (id),
  decision text NOT NULL CHECK (decision IN ('approve', 'deny')),
  comment text NOT NULL DEFAULT '',
  decided_at timestamptz NOT NULL,
  PRIMARY KEY (request_id, approver_id)
);
