-- Signed checkpoints of the event log (C2SP tlog-checkpoint as a signed note). The note is the
-- evidence; the size and root are kept beside it to find and compare checkpoints. One checkpoint
-- per tree size: instances sharing the database sign the same size once (the later insert is
-- ignored). Copies that rewriting this database cannot rewrite go to the configured sinks.
CREATE TABLE checkpoint (
  tree_size bigint PRIMARY KEY,
  -- Hex SHA-256 Merkle tree hash at tree_size (RFC 9162).
  root_hash text NOT NULL,
  origin text NOT NULL,
  -- The signing key's ID (8 hex digits), to notice instances that sign with different keys.
  key_id text NOT NULL,
  note text NOT NULL,
  created_at timestamptz NOT NULL
);

-- The signature line a witness answered for a checkpoint: a signature by the witness's key over the
-- same checkpoint text. The witness's key is not configured, so it is kept as answered and verified
-- by whoever knows the key (append it to the note and verify it with that key). One line per
-- witness and checkpoint, and a key name is one witness's: the first to answer under it.
CREATE TABLE checkpoint_cosignature (
  tree_size bigint NOT NULL REFERENCES checkpoint (tree_size),
  -- The witness's name in CHANGEGATE_WITNESSES.
  witness text NOT NULL,
  key_name text NOT NULL,
  key_id text NOT NULL,
  -- The whole signature line, with its newline.
  signature_line text NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (tree_size, witness),
  UNIQUE (tree_size, key_name)
);

-- Which witness answered under a key name first (a later one answering under it is refused).
CREATE INDEX checkpoint_cosignature_key_name ON checkpoint_cosignature (key_name, received_at);

CREATE FUNCTION checkpoint_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'signed checkpoints are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER checkpoint_append_only BEFORE UPDATE OR DELETE ON checkpoint
  FOR EACH ROW EXECUTE FUNCTION checkpoint_refuse_change();
CREATE TRIGGER checkpoint_cosignature_append_only BEFORE UPDATE OR DELETE ON checkpoint_cosignature
  FOR EACH ROW EXECUTE FUNCTION checkpoint_refuse_change();
CREATE TRIGGER checkpoint_no_truncate BEFORE TRUNCATE ON checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION checkpoint_refuse_change();
CREATE TRIGGER checkpoint_cosignature_no_truncate BEFORE TRUNCATE ON checkpoint_cosignature
  FOR EACH STATEMENT EXECUTE FUNCTION checkpoint_refuse_change();
