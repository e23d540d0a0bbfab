export { appendEvent, type NewEvent } from './event-append.ts';
export { EventLogService, type EventView, type VerifyReport } from './event.service.ts';
export { eventRoutes } from './event.routes.ts';
export { verifyEventLog } from './event-verify.ts';
export { consistencyProof, inclusionProof, rootAt, treeSize, type ConsistencyProof, type InclusionProof } from './event-tree.ts';
export { LogProofService, type ConsistencyProofView, type InclusionProofView, type RootView } from './proof.service.ts';
export { proofRoutes } from './proof.routes.ts';
export { leafHash } from './event.ts';
export { verifyConsistency, verifyInclusion } from './merkle.ts';
