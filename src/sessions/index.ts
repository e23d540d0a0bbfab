export { CommandWriter, type CommandWrites } from './command-writer.ts';
export { CommandDecisions, decisionsOnBoard } from './command-review.service.ts';
export { CommandReviewViewSchema, type CommandReviewView } from './command-review.views.ts';
export { Gateway, loadGatewayHostKey } from './gateway.ts';
export { InstanceService } from './instance.service.ts';
export { LiveSessions } from './live.ts';
export { parseCast, type CastEvent, type RecordingWritten } from './recorder.ts';
export { RECORDING_CHUNKS_ACTION, RecordingLog, type LoggedRecordingChunk, type RecordingWrites } from './recording-log.ts';
export {
  DatabaseRecordingStore,
  FileRecordingStore,
  RECORDING_CHANNEL,
  RecordingStores,
  sessionsOfRecordingNotice,
  type RecordingSink,
  type RecordingStore,
  type RecordingStoreKind,
  type StoredRecording,
} from './recording-store.ts';
export { verifyRecordingAgainstLog, type RecordingCheck } from './recording-verify.ts';
export { parseSessionTarget, presentCapture, presentCommand, presentSession, recordingTime, type ChangeCommand, type CommandView, type Session, type SessionCommand, type SessionTarget, type SessionView } from './session.ts';
export { EXIT_PENDING, SessionRunner, type ClientSide } from './session-runner.ts';
export { SessionService, type SessionListFilter } from './session.service.ts';
export { CaptureReasonViewSchema, CaptureStatusSchema, CommandViewSchema, SessionViewSchema, type CaptureReasonView, type SessionCaptureView } from './session.views.ts';
export { CAPTURE_REASON_TEXT, type CaptureReason, type CaptureStatus } from './capture-status.ts';
export { commandCounts as commandCountsOf, commandsOf, commandsOfChange, findSession, findSessionByNumber, heartbeat, interruptedSessionEnds, listSessions, sessionsOfChange, sessionsOfChanges, type SessionFilter } from './session.store.ts';
export { HostKeyMismatchError, sshUpstream, type UpstreamConnector } from './upstream.ts';
export type { CapturedCommand } from './line-reader.ts';
export type { ProgressTracking, SessionProgress } from './session-progress.ts';
