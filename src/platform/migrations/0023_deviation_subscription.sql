-- Users who asked to hear of a change's deviations from its script while its sessions run, besides
-- the approvers of its access group (issue: sessions that know the plan). Whether they still may
-- read the commands is checked at each alert, not here.
CREATE TABLE deviation_subscription (
  change_id uuid NOT NULL REFERENCES change (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (change_id, user_id)
);
