export { hasPrivilege, partitionsWith, requireObjectPrivilege, requirePrivilege } from './access.ts';
export { SYSTEM_ACTOR_NAME, type Actor, type SignIn } from './actor.ts';
export { inPartition, isPrivilege, PRIVILEGES, SYSTEM, type GrantLevel, type Privilege, type Scope } from './privilege.ts';
export { actorOf, type Authenticated } from './request-actor.ts';
