-- Why a session was terminated, in the words of whoever ended it (an administrator's reason, or
-- what a revoke or a security change told the user): shown with who ended it.
ALTER TABLE session ADD COLUMN termination_reason text;
