-- A device's identity guards its credentials (issue 10, item 1).

-- The host key fingerprint a credential is confirmed for. The gateway sends a password only to a
-- device whose pinned key is this one; after a re-pin, someone with Credential.Edit confirms it.
ALTER TABLE credential ADD COLUMN host_key_fingerprint text;
-- Credentials stored before this migration are taken as confirmed for their device's current key.
UPDATE credential
   SET host_key_fingerprint = device.host_key_fingerprint
  FROM device
 WHERE device.id = credential.device_id;

-- Device.Pin and Request.Revoke are new in the catalogue. A new installation's first administrator
-- gets them at bootstrap; on an upgraded one, every system-wide User.Admin at Admin level gets
-- them too, so someone can still pin a device's key and revoke a request.
INSERT INTO privilege_grant (id, user_id, privilege, level, partition_id, granted_at, granted_by)
SELECT gen_random_uuid(), holder.user_id, added.privilege, 'admin', NULL, now(), 'migration:0007_device_trust'
  FROM privilege_grant AS holder
 CROSS JOIN (VALUES ('Device.Pin'), ('Request.Revoke')) AS added (privilege)
 WHERE holder.privilege = 'User.Admin'
   AND holder.level = 'admin'
   AND holder.partition_id IS NULL
ON CONFLICT DO NOTHING;
