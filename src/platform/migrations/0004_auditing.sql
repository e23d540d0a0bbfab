-- Active auditing: audit rules, the audit trail, saved filters and the navigation bar.

-- An audit rule is a configuration object (written through the object store, itself audited by the
-- built-in rule). Patterns are matched in linear time (RE2); `builtin` marks the rule that audits
-- every audit rule, which nobody may edit, disable or delete.
CREATE TABLE audit_rule (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  application_id uuid REFERENCES application (id),
  description text NOT NULL DEFAULT '',
  object_type text NOT NULL,
  level smallint NOT NULL CHECK (level IN (1, 2)),
  name_pattern text NOT NULL,
  name_match text NOT NULL CHECK (name_match IN ('glob', 'glob_ignore_case', 'regex', 'regex_ignore_case')),
  application_rule text NOT NULL
    CHECK (application_rule IN ('all_objects', 'any_application', 'exact_application', 'no_application', 'sub_application')),
  -- No foreign key: a rule keeps naming an application that was deleted (it can be restored, id and all).
  match_application_id uuid,
  partition_pattern text NOT NULL,
  partition_match text NOT NULL CHECK (partition_match IN ('glob', 'glob_ignore_case', 'regex', 'regex_ignore_case')),
  enabled boolean NOT NULL,
  builtin boolean NOT NULL DEFAULT false,
  -- {"view": [usernames] | null, "edit": …, "delete": …}; null means everyone holding the privilege.
  security jsonb NOT NULL,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name),
  CHECK ((application_rule IN ('exact_application', 'sub_application')) = (match_application_id IS NOT NULL))
);
CREATE UNIQUE INDEX audit_rule_one_builtin ON audit_rule (builtin) WHERE builtin;

-- The built-in rule is refused here too, whatever code tries.
CREATE FUNCTION audit_rule_keep_builtin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.builtin THEN
    RAISE EXCEPTION 'the built-in audit rule % cannot be changed: nobody can escape auditing', OLD.name
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER audit_rule_builtin_fixed BEFORE UPDATE OR DELETE ON audit_rule
  FOR EACH ROW EXECUTE FUNCTION audit_rule_keep_builtin();

-- Every statement that changes audit rules takes a new generation number. Each instance keeps the
-- enabled rules compiled and checks this one row on each write: a rule edited anywhere is seen at
-- once, and a write does not read every rule. The number comes from a sequence, never reused, so a
-- generation seen inside a transaction that rolled back can never stand for other rules.
CREATE SEQUENCE audit_rule_generation_seq;
CREATE TABLE audit_rule_generation (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  value bigint NOT NULL
);
INSERT INTO audit_rule_generation (id, value) VALUES (true, nextval('audit_rule_generation_seq'));

CREATE FUNCTION audit_rule_next_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE audit_rule_generation SET value = nextval('audit_rule_generation_seq');
  RETURN NULL;
END
$$;
CREATE TRIGGER audit_rule_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON audit_rule
  FOR EACH STATEMENT EXECUTE FUNCTION audit_rule_next_generation();

-- The audit trail. One row per audited write: the level decides whether the whole object before
-- and after is kept (2, Full) or only the changed fields (1, Diff only). Snapshots hold secrets
-- sealed, as the vault stores them. No foreign keys: entries outlive the objects, partitions and
-- users they name.
CREATE SEQUENCE audit_entry_seq;
CREATE TABLE audit_entry (
  seq bigint PRIMARY KEY DEFAULT nextval('audit_entry_seq'),
  time timestamptz NOT NULL,
  object_type text NOT NULL,
  object_id uuid NOT NULL,
  business_key text NOT NULL,
  partition_id uuid NOT NULL,
  action char(1) NOT NULL CHECK (action IN ('C', 'M', 'D')),
  level smallint NOT NULL CHECK (level IN (1, 2)),
  username text NOT NULL,
  reason text,
  object_version integer NOT NULL,
  diff jsonb NOT NULL,
  before jsonb,
  after jsonb,
  rule_id uuid,
  restored_from bigint,
  CHECK (level = 2 OR (before IS NULL AND after IS NULL))
);
-- The search compiles to these: time ranges, user, business-key prefix, object type; the trail is
-- read newest first (seq descending), so each index ends in seq.
CREATE INDEX audit_entry_time ON audit_entry (time, seq);
CREATE INDEX audit_entry_user ON audit_entry (username, seq);
CREATE INDEX audit_entry_key ON audit_entry (business_key text_pattern_ops, seq);
CREATE INDEX audit_entry_type ON audit_entry (object_type, seq);
CREATE INDEX audit_entry_object ON audit_entry (object_id, seq);
CREATE INDEX audit_entry_deleted ON audit_entry (seq) WHERE action = 'D';

-- Saved searches of the audit trail (`AuditEntry`) or of audit rules (`AuditRule`): objects too.
CREATE TABLE audit_filter (
  id uuid PRIMARY KEY,
  partition_id uuid NOT NULL REFERENCES partition (id),
  name text NOT NULL,
  application_id uuid REFERENCES application (id),
  description text NOT NULL DEFAULT '',
  target text NOT NULL CHECK (target IN ('AuditEntry', 'AuditRule')),
  query text NOT NULL,
  owner text NOT NULL,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  UNIQUE (partition_id, name)
);

-- The filters a user added to their navigation bar, in order.
CREATE TABLE navigation_item (
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  filter_id uuid NOT NULL REFERENCES audit_filter (id) ON DELETE CASCADE,
  position integer NOT NULL,
  added_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);
