-- Identity trust: how recently a web session proved the password (and TOTP), who registered an
-- SSH key, and a per-user sign-in epoch that a security change bumps so gateway connections
-- signed in before it open no more sessions.

ALTER TABLE web_session ADD COLUMN authenticated_at timestamptz;
UPDATE web_session SET authenticated_at = created_at;
ALTER TABLE web_session ALTER COLUMN authenticated_at SET NOT NULL;
-- Sessions from before this migration are not known to have given a TOTP code.
ALTER TABLE web_session ADD COLUMN second_factor boolean NOT NULL DEFAULT false;

-- The username of whoever registered the key; NULL for keys registered before it was recorded.
ALTER TABLE ssh_public_key ADD COLUMN added_by text;

ALTER TABLE app_user ADD COLUMN signin_epoch integer NOT NULL DEFAULT 0;
