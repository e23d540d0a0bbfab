-- The Changegate instances serving one database, each saying every few seconds that it is alive:
-- another instance finds one gone silent and marks its open sessions interrupted. `id` is the
-- instance id kept in each instance's data directory (the `instance_id` of its sessions).
CREATE TABLE instance (
  id text PRIMARY KEY,
  host_name text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  http_port integer,
  ssh_port integer,
  started_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  -- Set when the instance began to drain (SIGTERM): it takes no new sessions and is not ready.
  draining_since timestamptz,
  -- Set by a clean stop; a new start of the same instance clears it.
  stopped_at timestamptz
);

-- Work that one instance at a time must do (request expiry, the takeover scan, periodic checkpoint
-- signing): whoever holds a name's lease until it expires does it; the holder renews it.
CREATE TABLE work_lease (
  name text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);
