-- The change audit: each change's board score and outcome, recomputed when one of its sessions ends.

CREATE TABLE change_review (
  change_id uuid PRIMARY KEY REFERENCES change (id),
  score integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  outcome text NOT NULL CHECK (outcome IN ('as_planned', 'incomplete', 'exceeded', 'incomplete_and_exceeded')),
  counts jsonb NOT NULL,
  -- Per device: [{"device", "score", "outcome", "counts"}].
  devices jsonb NOT NULL,
  computed_at timestamptz NOT NULL
);
CREATE INDEX change_review_by_score ON change_review (score);
CREATE INDEX change_review_by_outcome ON change_review (outcome);
