export { EventLogService, type VerifyReport } from './event.service.ts';
export type { EventView } from './event.views.ts';
export { LogProofService } from './proof.service.ts';
export type { ConsistencyProofView, InclusionProofView, RootView } from './proof.views.ts';
export { CheckpointService } from './checkpoint.service.ts';
export type { CheckpointView, LogKeyView } from './checkpoint.views.ts';
export { LogVerifyService, givenVerifierKey, type CheckpointVerifyReport, type CheckpointVerifyRequest } from './log-verify.service.ts';
export { EvidenceService, type ChangeBoards, type EvidenceExport, type EvidenceLog } from './evidence.service.ts';
export { BUNDLE_PATHS, bundleFileName } from './evidence-bundle.ts';
