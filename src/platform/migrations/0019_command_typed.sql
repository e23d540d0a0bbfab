-- What was typed, when the shell ran another line than it (a history expansion: `sudo !!`);
-- `text` is the line the shell ran.
ALTER TABLE session_command ADD COLUMN typed_text text;
