-- How far each session's command list can be trusted (src/sessions/capture-status.ts): the notes
-- the capture made, `[{"reason": "multiplexer", "since": "…", "offsetSeconds": 12.5}, …]`, written
-- when the session ends; `[]` for a complete capture. Null while it runs, and for sessions that
-- ended before this migration or that a crash interrupted: their capture status is unknown.
ALTER TABLE session ADD COLUMN capture_notes jsonb;
-- The terminal echoed nothing (`stty -echo`): the line was rebuilt from the keys typed.
ALTER TABLE session_command ADD COLUMN from_keystrokes boolean NOT NULL DEFAULT false;
