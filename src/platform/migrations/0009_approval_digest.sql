-- An approval is for exactly what was approved: each decision keeps the SHA-256 of the change's
-- plan (window, devices, script, access group) as the approver saw it. Decisions recorded before
-- this migration have none, and an approval without one no longer admits a session.
ALTER TABLE request_decision ADD COLUMN digest text;

-- Separation of duties by default: a new access group does not let a change's planner execute it.
-- Existing groups keep the value they have.
ALTER TABLE access_group ALTER COLUMN planner_may_execute SET DEFAULT false;
