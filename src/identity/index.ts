export { hasPrivilege, partitionsWith, requireObjectPrivilege, requirePrivilege } from './access.ts';
export { SYSTEM_ACTOR_NAME, type Actor, type SignIn } from './actor.ts';
export { NO_ACCESS_GROUP_ROLES, type AccessGroupRole, type AccessGroupRoles } from './account-powers.ts';
export { RECENT_SIGN_IN_MINUTES } from './account-security.ts';
export { AuthService, type ApiTokenView, type Authenticated, type AuthPolicy, type WebSession } from './auth.service.ts';
export { bootstrapInstallation, FIRST_ADMIN, type BootstrapResult } from './bootstrap.ts';
export { breakGlassResetPassword, type BreakGlassReset } from './break-glass.ts';
export { GrantService, type GrantInput, type GrantView } from './grant.service.ts';
export { APPLICATION_NAME, GLOBAL_PARTITION, PARTITION_NAME, PartitionService, type ApplicationView, type PartitionView } from './partition.service.ts';
export { findUserByName, userKind } from './user.store.ts';
export { inPartition, isPrivilege, PRIVILEGES, SYSTEM, type GrantLevel, type Privilege, type Scope } from './privilege.ts';
export { IDENTITY_SEALED_COLUMNS, totpCode } from './totp.ts';
export { UserService, type NewUser, type SshKeyView } from './user.service.ts';
export type { UserView } from './user.ts';
export { actorOf, registerAuthentication, SESSION_COOKIE } from './auth.routes.ts';
export { authRoutes } from './auth.routes.ts';
export { grantRoutes } from './grant.routes.ts';
export { partitionRoutes } from './partition.routes.ts';
export { userRoutes } from './user.routes.ts';
export { parseSshPublicKey, type SshPublicKey } from './ssh-key.ts';
export {
  applicationKind,
  findApplication,
  findApplicationObject,
  findPartitionByName,
  findPartitionObject,
  findPartitionObjectByName,
  globalPartitionId,
  partitionKind,
} from './partition.store.ts';
export type { Application, Partition } from './partition.ts';
export type { UserProfile } from './user.ts';
export { resolvePlace, type Place } from './place.ts';
