-- Appends one entry, and the Merkle subtree hashes it completes, in one round trip under the
-- append lock (event.store.ts) — provided the log still ends where the caller believes: its last
-- entry is seq p_seq - 1 with chain hash p_previous_chain (the genesis hash for the first entry).
-- Otherwise it appends nothing and answers the log's actual last entry, for the caller to compute
-- the entry again while it holds the lock. So an instance may keep the log's head and right edge
-- in memory between appends: a hint that this check makes safe, never a trusted state. The chain
-- hash commits to every earlier entry, so a matching head means the same history.
CREATE FUNCTION event_append(
  p_seq bigint, p_previous_chain text,
  p_time timestamptz, p_actor text, p_action text, p_subject text, p_data jsonb,
  p_leaf_hash text, p_chain_hash text,
  p_levels smallint[], p_idxs bigint[], p_hashes text[]
) RETURNS TABLE (appended boolean, head_seq bigint, head_leaf_hash text, head_chain_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last_seq bigint;
  last_leaf text;
  last_chain text;
BEGIN
  PERFORM pg_advisory_xact_lock(7311002);
  -- A statement of its own after the lock: under READ COMMITTED it sees every entry committed before.
  SELECT e.seq, e.leaf_hash, e.chain_hash INTO last_seq, last_leaf, last_chain FROM event e ORDER BY e.seq DESC LIMIT 1;
  IF coalesce(last_seq, 0) <> p_seq - 1 OR (last_seq IS NOT NULL AND last_chain <> p_previous_chain) THEN
    RETURN QUERY SELECT false, last_seq, last_leaf, last_chain;
    RETURN;
  END IF;
  IF cardinality(p_levels) > 0 THEN
    -- A subtree already stored with the same hash (event_tree_build) stays; one with another hash
    -- was planted, and the UPDATE this turns into is refused by the table's append-only trigger.
    INSERT INTO event_tree_node (level, idx, hash)
    SELECT * FROM unnest(p_levels, p_idxs, p_hashes)
    ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash WHERE event_tree_node.hash <> excluded.hash;
  END IF;
  INSERT INTO event (seq, time, actor, action, subject, data, leaf_hash, chain_hash)
  VALUES (p_seq, p_time, p_actor, p_action, p_subject, p_data, p_leaf_hash, p_chain_hash);
  RETURN QUERY SELECT true, p_seq, p_leaf_hash, p_chain_hash;
END
$$;
