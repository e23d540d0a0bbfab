export { EvidenceService, type ChangeBoards, type EvidenceExport, type EvidenceLog } from './evidence.service.ts';
export { evidenceRoutes } from './evidence.routes.ts';
export { BUNDLE_PATHS, bundleFileName } from './evidence-bundle.ts';
