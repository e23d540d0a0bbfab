-- What a command policy decided of a line in a session, other than a plain allow
-- (src/sessions/command-review.ts): a denial, a warning, a line allowed but rebuilt from the keys
-- typed, and a line held for an approver's review, with the review's course. Users read the number
-- as "review #N". `typed_in` is where the line was typed (the shell, a program, a password prompt,
-- a full-screen program); `line` is null where it is not shown (a password prompt). `reasons` and
-- `asked` (user ids) are jsonb arrays. No foreign key to access_group: the group the line was held
-- under may be deleted later, and the decision stays.
CREATE SEQUENCE command_decision_number;

CREATE TABLE command_decision (
  id uuid PRIMARY KEY,
  number bigint NOT NULL UNIQUE DEFAULT nextval('command_decision_number'),
  session_id uuid NOT NULL REFERENCES session (id),
  change_id uuid NOT NULL REFERENCES change (id),
  device_id uuid NOT NULL REFERENCES device (id),
  access_group_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES app_user (id),
  time timestamptz NOT NULL,
  offset_seconds double precision NOT NULL,
  line text,
  reasons jsonb NOT NULL,
  decision text NOT NULL CHECK (decision IN ('deny', 'warn', 'review', 'allow')),
  typed_in text NOT NULL CHECK (typed_in IN ('shell', 'program', 'secret', 'screen')),
  from_keystrokes boolean NOT NULL,
  status text CHECK (status IN ('pending', 'allowed', 'refused', 'withdrawn', 'expired')),
  asked jsonb,
  decided_by uuid REFERENCES app_user (id),
  decided_at timestamptz,
  comment text,
  -- A review, and only a review, has a status and the approvers it asked.
  CHECK ((decision = 'review') = (status IS NOT NULL AND asked IS NOT NULL))
);
CREATE INDEX command_decision_pending ON command_decision (number) WHERE status = 'pending';
CREATE INDEX command_decision_by_session ON command_decision (session_id, number);
-- The board of a change reads its decisions device by device; My approvals reads what a user is asked.
CREATE INDEX command_decision_by_change ON command_decision (change_id, device_id, number);
CREATE INDEX command_decision_asked ON command_decision USING gin (asked);
