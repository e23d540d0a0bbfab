export { EvidenceService, type ChangeBoards, type EvidenceExport, type EvidenceLog } from './evidence.service.ts';
export { BUNDLE_PATHS, bundleFileName } from './evidence-bundle.ts';
