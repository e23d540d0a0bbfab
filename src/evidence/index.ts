export { EventLogService, type EventView, type VerifyReport } from './event.service.ts';
export { LogProofService, type ConsistencyProofView, type InclusionProofView, type RootView } from './proof.service.ts';
export { CheckpointService, type CheckpointView, type LogKeyView } from './checkpoint.service.ts';
export { LogVerifyService, givenVerifierKey, type CheckpointVerifyReport, type CheckpointVerifyRequest } from './log-verify.service.ts';
export { EvidenceService, type ChangeBoards, type EvidenceExport, type EvidenceLog } from './evidence.service.ts';
export { BUNDLE_PATHS, bundleFileName } from './evidence-bundle.ts';
