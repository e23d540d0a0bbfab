export type { AccessGroup, AccessGroupView } from './access-group.ts';
export { AccessGroupService, type NewAccessGroup } from './access-group.service.ts';
export { changeStatus, type Change, type ChangeStatus, type ChangeView } from './change.ts';
export { ChangeService, findVisibleChange, type NewChange } from './change.service.ts';
export { findChange, findChangeByName } from './change.store.ts';
export type { RequestStatus, RequestView } from './request.ts';
export { RequestService, type AccessOutcome, type AccessQuery, type RequestNotifier } from './request.service.ts';
export { parseScript, formatScriptError, type Script, type ScriptStep, type ScriptError } from './script.ts';
export { changeRoutes } from './changes.routes.ts';
