export { Gateway, loadGatewayHostKey } from './gateway.ts';
export { LiveSessions } from './live.ts';
export { parseCast, type CastEvent } from './recorder.ts';
export { parseSessionTarget, presentSession, type CommandView, type SessionTarget, type SessionView } from './session.ts';
export { EXIT_PENDING, SessionRunner, type ClientSide } from './session-runner.ts';
export { sessionRoutes } from './session.routes.ts';
export { SessionService, type SessionListFilter } from './session.service.ts';
export { commandCounts as commandCountsOf, commandsOf, heartbeat, requestNumbers as requestNumbersOf } from './session.store.ts';
export { HostKeyMismatchError, sshUpstream, type UpstreamConnector } from './upstream.ts';
