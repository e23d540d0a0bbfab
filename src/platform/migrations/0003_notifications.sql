-- Notifications: what was notified (notice), each recipient's in-app copy (notification), the
-- webhooks administrators configure, and the outbox of e-mail and webhook deliveries that the
-- dispatcher works through in the background.

CREATE TABLE notice (
  id uuid PRIMARY KEY,
  kind text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  link text,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

-- One row per recipient: the in-app list. `seq` orders a user's list (newest first) and pages it.
CREATE TABLE notification (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  notice_id uuid NOT NULL REFERENCES notice (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  read_at timestamptz
);
CREATE INDEX notification_user ON notification (user_id, seq DESC);
CREATE INDEX notification_user_unread ON notification (user_id, seq DESC) WHERE read_at IS NULL;

-- A webhook is a configuration object written through the object store (versioned, logged,
-- audited). Webhooks are system-wide: they live in the GLOBAL partition. The HMAC secret is stored
-- sealed by the secret box (context `webhook:<id>`), never in clear.
CREATE TABLE webhook (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL UNIQUE,
  application_id uuid REFERENCES application (id),
  url text NOT NULL,
  secret text NOT NULL,
  kinds text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL
);

-- The outbox. A row is `pending` until it is `delivered` or, after its last attempt, `failed`.
-- A dispatcher claims due rows with FOR UPDATE SKIP LOCKED, counts the attempt and pushes
-- `next_attempt_at` past a lease, so no other instance sends it meanwhile; the outcome is recorded
-- only if `attempts` still matches the claim.
CREATE TABLE notification_delivery (
  id uuid PRIMARY KEY,
  notice_id uuid NOT NULL REFERENCES notice (id) ON DELETE CASCADE,
  channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
  user_id uuid REFERENCES app_user (id) ON DELETE CASCADE,
  address text,
  webhook_id uuid REFERENCES webhook (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_attempt_at timestamptz,
  last_error text,
  last_status_code integer,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL,
  CHECK ((channel = 'email') = (user_id IS NOT NULL AND address IS NOT NULL)),
  CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX notification_delivery_due ON notification_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_delivery_status ON notification_delivery (status, created_at DESC);
CREATE INDEX notification_delivery_webhook ON notification_delivery (webhook_id, created_at DESC) WHERE webhook_id IS NOT NULL;
