-- OpenID Connect sign-in (docs/oidc.md).

-- Where a grant came from: given by an administrator ('manual'), or kept in step with the user's
-- groups at the provider ('oidc'). Sign-in through the provider adds and removes only its own.
ALTER TABLE privilege_grant ADD COLUMN source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'oidc'));

-- A sign-in under way at the provider: the browser holds the flow token in a cookie, this row its
-- hash. State, nonce and PKCE verifier are checked at the callback, which deletes the row first, so
-- a callback is never accepted twice. After the provider, a user with TOTP may still owe a code:
-- the row then names the user ('totp' step) until the code comes or it expires, with what the
-- provider said of them (subject, groups), which binds them only once the code is right.
CREATE TABLE oidc_sign_in (
  flow_hash text PRIMARY KEY,
  -- The address (or IPv6 /64) it came from: pending sign-ins are bounded per source.
  source text NOT NULL,
  step text NOT NULL CHECK (step IN ('provider', 'totp')),
  state text,
  nonce text,
  -- The PKCE code verifier, sealed with the master key.
  code_verifier text,
  user_id uuid REFERENCES app_user (id) ON DELETE CASCADE,
  subject text,
  groups jsonb,
  next text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_sign_in_expiry ON oidc_sign_in (expires_at);
CREATE INDEX oidc_sign_in_source ON oidc_sign_in (source);

-- Which account of the provider a user is: once linked, another subject claiming the same
-- username is refused, and so is this subject claiming another username.
CREATE TABLE oidc_identity (
  user_id uuid PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
  issuer text NOT NULL,
  subject text NOT NULL,
  linked_at timestamptz NOT NULL,
  last_sign_in_at timestamptz NOT NULL,
  UNIQUE (issuer, subject)
);
