-- What an access group lets its executors run (issue: sessions that know the plan): the command
-- policy, `{"rules": [{"kind": "deny"|"review"|"warn", "syntax": "glob"|"regex", "pattern": "…",
-- "name": "…"}], "strict": false}`, checked at each Enter of its changes' sessions; and which
-- deviations from a change's script alert its approvers while a session runs.
ALTER TABLE access_group ADD COLUMN command_policy jsonb NOT NULL DEFAULT '{"rules": [], "strict": false}';
ALTER TABLE access_group ADD COLUMN deviation_alerts text NOT NULL DEFAULT 'off'
  CHECK (deviation_alerts IN ('off', 'extra', 'every'));
