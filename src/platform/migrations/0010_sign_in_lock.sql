-- Account lockout per source address: failed sign-ins lock a user at the address (an IPv4
-- address, or an IPv6 /64) they came from, not everywhere, so that nobody can keep a known user
-- out by failing on purpose. From an address that has not failed, the right password still
-- signs in. A row lives while its address has failures since its last success, or a lock.
CREATE TABLE sign_in_lock (
  user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  source text NOT NULL,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, source)
);

-- app_user.locked_until now only shows the latest lock of any address; app_user.failed_logins is
-- no longer used. A lock from before this migration applied to every address and is not known
-- to any: it is lifted.
UPDATE app_user SET failed_logins = 0, locked_until = NULL;
