-- The event log as an RFC 9162 Merkle tree. Each row is the hash of a perfect subtree: the leaves
-- [idx * 2^level, (idx + 1) * 2^level), leaf i being the entry with seq i + 1. Level 0 is not
-- stored: it is event.leaf_hash. An append adds the subtrees it completes (at most log2(n) rows),
-- so the root of any size, and every proof, combine ~log2(n) stored hashes.
CREATE TABLE event_tree_node (
  level smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
  idx bigint NOT NULL CHECK (idx >= 0),
  -- Hex SHA-256(0x01 || left || right), like event.leaf_hash.
  hash text NOT NULL,
  PRIMARY KEY (level, idx)
);

CREATE FUNCTION event_tree_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event log''s Merkle tree is append-only: % on event_tree_node is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER event_tree_node_append_only BEFORE UPDATE OR DELETE ON event_tree_node
  FOR EACH ROW EXECUTE FUNCTION event_tree_refuse_change();
CREATE TRIGGER event_tree_node_no_truncate BEFORE TRUNCATE ON event_tree_node
  FOR EACH STATEMENT EXECUTE FUNCTION event_tree_refuse_change();

-- Adds every subtree hash missing for the entries stored, level by level, and returns how many it
-- added. It converts a log written before the tree, and fills what an instance of an older version
-- appended during an upgrade. sha256() is core PostgreSQL (11 and later, PGlite too): no pgcrypto.
-- It reads the leaf hashes as stored; a log whose entries were tampered with gets a tree of what is
-- there, and `changegate verify` is what recomputes the leaves.
CREATE FUNCTION event_tree_build() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  size bigint;
  lvl int := 1;
  added bigint := 0;
  step bigint;
BEGIN
  SELECT coalesce(max(seq), 0) INTO size FROM event;
  INSERT INTO event_tree_node (level, idx, hash)
  SELECT 1, (l.seq - 1) / 2, encode(sha256('\x01'::bytea || decode(l.leaf_hash, 'hex') || decode(r.leaf_hash, 'hex')), 'hex')
  FROM event l JOIN event r ON r.seq = l.seq + 1
  WHERE l.seq % 2 = 1 AND r.seq <= size
    AND NOT EXISTS (SELECT 1 FROM event_tree_node p WHERE p.level = 1 AND p.idx = (l.seq - 1) / 2);
  GET DIAGNOSTICS step = ROW_COUNT;
  added := added + step;
  WHILE (size >> (lvl + 1)) > 0 LOOP
    INSERT INTO event_tree_node (level, idx, hash)
    SELECT lvl + 1, l.idx / 2, encode(sha256('\x01'::bytea || decode(l.hash, 'hex') || decode(r.hash, 'hex')), 'hex')
    FROM event_tree_node l JOIN event_tree_node r ON r.level = l.level AND r.idx = l.idx + 1
    WHERE l.level = lvl AND l.idx % 2 = 0 AND r.idx < (size >> lvl)
      AND NOT EXISTS (SELECT 1 FROM event_tree_node p WHERE p.level = lvl + 1 AND p.idx = l.idx / 2);
    GET DIAGNOSTICS step = ROW_COUNT;
    added := added + step;
    lvl := lvl + 1;
  END LOOP;
  RETURN added;
END
$$;

-- Takes the append lock, then reads the last entry: one round trip where there were two, so an
-- append with the tree costs no more round trips than one without it did. The read is a statement
-- of its own in a VOLATILE function, so under READ COMMITTED it sees every entry committed before
-- the lock was granted.
CREATE FUNCTION event_lock_for_append() RETURNS TABLE (seq bigint, leaf_hash text, chain_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7311002);
  RETURN QUERY SELECT e.seq, e.leaf_hash, e.chain_hash FROM event e ORDER BY e.seq DESC LIMIT 1;
END
$$;

-- Converts the log as it stands, holding the append lock (event.store.ts) so no entry is added meanwhile.
SELECT pg_advisory_xact_lock(7311002);
SELECT event_tree_build();
