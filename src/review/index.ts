export { compareChange, compareDevice, type BoardRow, type ChangeComparison, type ExecutedCommand, type Outcome } from './comparison.ts';
export { renderReport, REPORT_FORMATS, type ReportFormat } from './report.ts';
export { ReviewService } from './review.service.ts';
export type { AuditedSessionView, ChangeAuditView } from './review.views.ts';
export { boardDigest, checkReviewResultInLog, findReviewResultEvent, REVIEW_RESULT_ACTION, type ChangeAuditResult, type LoggedReviewResult, type ReviewResultCheck, type ReviewResultEvent } from './review-log.ts';
export { storedReview, type StoredReview } from './review.store.ts';
