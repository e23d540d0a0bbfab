export { compareChange, compareDevice, type BoardRow, type ChangeComparison, type ExecutedCommand, type Outcome } from './comparison.ts';
export { renderReport, REPORT_FORMATS, type ReportFormat } from './report.ts';
export { ReviewService, type AuditedSessionView, type ChangeAuditView } from './review.service.ts';
export { boardDigest, checkReviewResultInLog, findReviewResultEvent, REVIEW_RESULT_ACTION, type ChangeAuditResult, type LoggedReviewResult, type ReviewResultCheck, type ReviewResultEvent } from './review-log.ts';
