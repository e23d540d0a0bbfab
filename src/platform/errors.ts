/**
 * The one catalogue of errors a caller can see. Each has a stable `code` (clients branch on it),
 * an HTTP status, and a message that says what to fix. Services throw these; the HTTP error
 * handler and the CLI present them. Anything else that escapes is a bug and becomes a 500.
 *
 * `ERROR_CATALOGUE` is the list of codes, as data: docs/errors.md documents each (a test holds the
 * two together). `errors` makes them: code with code, grouped by the module that answers them.
 */
export type ErrorDetails = Record<string, unknown> | readonly unknown[];

/** What the catalogue says of a code. */
export interface ErrorKind {
  /** The HTTP status it is answered with. */
  readonly status: number;
  /**
   * A second status the same code is answered with in one case, kept so that no answer of the API
   * changes (docs/errors.md says when).
   */
  readonly alsoStatus?: number;
  /** What the caller should do about it, in one sentence. */
  readonly action: string;
}

export const ERROR_CATALOGUE = {
  // Any request
  validation_failed: { status: 400, action: 'Fix the fields listed in `details.problems` (a JSON pointer and what is wrong with each) and send the request again.' },
  invalid_json: { status: 400, action: 'Send a well-formed JSON body, or no body and no Content-Type.' },
  json_too_deep: { status: 400, action: 'Send a flatter document: no request nests arrays or objects more than 64 levels deep.' },
  payload_too_large: { status: 413, action: 'Send a body of at most 1 MiB.' },
  unsupported_media_type: { status: 415, action: 'Send the body as `application/json`.' },
  bad_request: { status: 400, action: 'Fix the request as the message says.' },
  route_not_found: { status: 404, action: 'Check the method and path against the API description at `/api/docs`.' },
  not_found: { status: 404, action: 'Check the name or id; if it is right, ask an administrator for the privilege to see the object.' },
  forbidden: { status: 403, action: 'Ask an administrator for the privilege the message names, in the partition it names.' },
  conflict: { status: 409, action: 'Do first what the message says (reload the object, delete or move what still uses it, name the partition), then retry.' },
  already_exists: { status: 409, action: 'Choose another name, or use the object that exists.' },
  unavailable: { status: 503, action: 'Try again in a few seconds; if the message names a command to run (such as `changegate verify`), run it first.' },
  internal_error: { status: 500, action: 'Try again; if it keeps failing, an administrator finds the cause in the server log.' },
  instance_draining: { status: 503, action: 'Send the request to another instance (a load balancer does so once this one fails its readiness check); this one is stopping.' },
  migrations_pending: { status: 503, action: 'Let the instance with the newer migrations finish starting, or run `changegate migrate`; then check again.' },

  // Signing in (identity)
  unauthenticated: { status: 401, action: 'Sign in: send the session cookie, or an `Authorization: Bearer <token>` header with a valid API token.' },
  invalid_credentials: { status: 401, action: 'Check the username, password and one-time code, and try again.' },
  totp_required: { status: 401, action: 'Send the password again with the 6-digit `totp` code from the authenticator app.' },
  account_locked: { status: 423, action: 'Wait until `details.lockedUntil`, or sign in from another address (with TOTP, the right password and a valid code also pass).' },
  too_many_requests: { status: 429, action: 'Wait `details.retryAfterSeconds` (the `Retry-After` header) before trying again.' },
  csrf_token_invalid: { status: 403, action: 'Send the `X-CSRF-Token` header with the token from `POST /api/v1/auth/login` or `GET /api/v1/me`.' },
  password_sign_in_disabled: { status: 403, action: 'Sign in through the OpenID Connect provider ("Sign in with …" on the sign-in page); at the SSH gateway, use your registered SSH key.' },
  oidc_unavailable: { status: 503, action: 'Try again in a moment; if it keeps failing, an administrator finds the cause in the server log.' },
  oidc_sign_in_expired: { status: 401, action: 'Start again with "Sign in with …": the sign-in under way expired, was already used, or was started in another browser.' },
  recent_sign_in_required: { status: 403, action: 'Prove the password again from a web session (`POST /api/v1/auth/reauthenticate`), then retry.' },
  more_privileged_user: { status: 403, action: 'Ask a user administrator who holds every privilege and access-group role of that account.' },
  application_in_use: { status: 409, action: 'Move the objects listed in `details.objects` to another application (or none), or delete them, then retry.' },
  vault_rotation_needs_keys: { status: 400, action: 'Give the new master key and the old one, the new one first, for that one run of `changegate vault rotate`.' },

  // The event log
  invalid_log_range: { status: 400, action: 'Ask for entries and tree sizes the log has (from 1 up to its current size), a consistency proof from the smaller size to the larger.' },

  // Backups
  backup_not_embedded: { status: 409, action: 'Back up the PostgreSQL database with pg_dump, and the recordings and keys as docs/backups.md says.' },

  // Changes and requests
  change_cancelled: { status: 409, alsoStatus: 403, action: 'Register a new change: a cancelled one can be neither edited nor run.' },
  script_frozen: { status: 409, action: 'Register a new change for a different script.' },
  script_invalid: { status: 400, action: 'Fix the script errors listed in `details.errors` (line, column, message) and save again.' },
  change_ambiguous: { status: 409, action: 'Name the change: one of `details.choices`, as `change` in the request or `<you>@<device>+<change>` at the gateway.' },
  justification_required: { status: 400, action: 'Say in `justification` why you need to run the change now.' },
  no_change: { status: 403, action: 'Ask a planner to register a change that includes the device, or name a change that does.' },
  not_executor: { status: 403, action: 'Ask to be made an executor of the access group in `details.groups`, or let one of its executors run the change.' },
  planner_may_not_execute: { status: 403, action: 'Let another executor of the access group run the change.' },
  approval_outdated: { status: 403, action: 'Ask again for a new approval: `"again": true` in the request, or `changegate request create <device> --again`.' },
  window_not_open: { status: 403, action: 'Connect again once the window opens, at `details.opensAt`.' },
  window_closed: { status: 403, action: 'Ask a planner for a new change.' },
  request_not_pending: { status: 409, action: 'Read the request to see its status; ask again if you still need to run the change.' },
  request_not_approved: { status: 409, action: 'Deny a pending request instead; a request that is already closed needs nothing.' },
  self_approval: { status: 403, action: 'Let another approver of the access group decide it.' },

  // Sessions
  too_many_watchers: { status: 429, action: 'Try again once another watcher has left, or close one of your own watches first.' },
  watcher_too_slow: { status: 408, action: 'Watch again: the recording so far is replayed first.' },
  session_ended: { status: 409, action: 'Nothing to do: the session has already ended.' },
  session_elsewhere: { status: 409, action: 'The instance that runs the session did not answer: try again; if it has stopped, the session is marked interrupted once the instance is found silent.' },
  review_not_pending: { status: 409, action: 'Nothing to decide: read the review to see how it ended; a line typed again is held for a new review.' },

  // Devices and credentials (inventory)
  device_unreachable: { status: 502, action: "Check the device's hostname and port and that its SSH server runs, then test the connection again." },
  host_key_mismatch: { status: 409, action: 'If the server was reinstalled, have an administrator pin its new key; otherwise treat it as someone in the middle.' },
  host_key_unverified: { status: 409, action: 'Check the fingerprint on the server itself, then test again with `expectedFingerprint` set to it.' },
  host_key_not_expected: { status: 409, action: 'Check the address and the fingerprint on the server itself before pinning anything.' },
  host_key_not_pinned: { status: 409, action: "Pin the device's key first (test the connection), then confirm the credential for the fingerprint the device shows." },

  // Auditing
  builtin_rule: { status: 409, action: 'Leave the built-in rule AUDIT_RULES as it is: audit other objects with rules of your own.' },
  search_invalid: { status: 400, action: 'Fix the search at the column named in `details.column`.' },
  restore_unavailable: { status: 409, action: 'Restore the other side of the entry, or another entry that keeps the whole object.' },
  restore_blocked: { status: 409, action: 'Clear what `details.blockers` lists, then restore again.' },
  not_in_trash: { status: 409, action: 'Restore the entry from the audit trail instead.' },
  promote_failed: { status: 502, action: "Check the target's address, that it is a Changegate, and the token you gave, then promote again." },

  // Evidence
  evidence_too_large: { status: 413, action: 'Download the recordings one by one (`changegate session download`) and verify each against the log.' },
} as const satisfies Record<string, ErrorKind>;

/** The stable code of an error a caller can see. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Every code, for the OpenAPI description of an error answer. */
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as readonly ErrorCode[];

/** Whether a code read back from somewhere (an answer of the API) is one this build knows. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly status: number;

  /**
   * The status is the catalogue's, unless given: the other status a code is documented with, or
   * the status of an answer read back from the API.
   */
  constructor(
    readonly code: C,
    message: string,
    readonly details?: ErrorDetails,
    status?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status ?? ERROR_CATALOGUE[code].status;
  }
}

/**
 * Whether `error` is an AppError, with one of `codes` when given: `isAppError(error, 'totp_required')`
 * narrows `error.code` to that code.
 */
export function isAppError(error: unknown): error is AppError;
export function isAppError<C extends ErrorCode>(error: unknown, ...codes: readonly C[]): error is AppError<C>;
export function isAppError(error: unknown, ...codes: readonly ErrorCode[]): boolean {
  return error instanceof AppError && (codes.length === 0 || codes.includes(error.code));
}

/** One field that failed validation: where (a JSON pointer like `/body/email`) and why. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/** What an error about a device's host key names of the device. */
interface DeviceKey {
  readonly name: string;
  readonly hostKeyFingerprint: string | null;
}

export const errors = {
  // Any request
  validation: (message: string, problems: readonly FieldProblem[] = []) =>
    new AppError('validation_failed', message, problems.length > 0 ? { problems } : undefined),
  invalidJson: (message: string) => new AppError('invalid_json', `The request body is not valid JSON: ${message}`),
  jsonTooDeep: (limit: number) =>
    new AppError('json_too_deep', `The request body nests arrays or objects more than ${limit} levels deep: no request needs that, send a flatter document.`, { maxDepth: limit }),
  payloadTooLarge: (limit: number) => new AppError('payload_too_large', `The request body is larger than ${limit} bytes.`),
  unsupportedMediaType: (type: string) =>
    new AppError('unsupported_media_type', `Content type "${type}" is not accepted: send application/json.`),
  /** A request the framework refused for a reason of its own: its 4xx status is kept. */
  badRequest: (message: string, status: number) => new AppError('bad_request', message, undefined, status),
  routeNotFound: (method: string, url: string) =>
    new AppError('route_not_found', `There is no route ${method} ${url}. The API is described at /api/docs.`),
  /** Also answered when the caller may not see the object, so a denial never reveals that it exists. */
  notFound: (what: string, key: string) => new AppError('not_found', `No ${what} "${key}" exists, or you may not see it.`),
  forbidden: (message: string, details?: ErrorDetails) => new AppError('forbidden', message, details),
  conflict: (message: string, details?: ErrorDetails) => new AppError('conflict', message, details),
  alreadyExists: (what: string, key: string) => new AppError('already_exists', `A ${what} named "${key}" already exists.`),
  unavailable: (message: string) => new AppError('unavailable', message),
  /** An instance that is stopping: its readiness check fails, so a load balancer sends traffic elsewhere. */
  instanceDraining: (since: Date) => new AppError('instance_draining', `This Changegate instance is stopping (draining since ${since.toISOString()}): it takes no new sessions.`),
  migrationsPending: (names: readonly string[]) =>
    new AppError('migrations_pending', `The database lacks ${names.length} migration(s) this instance needs (${names.join(', ')}): it is not ready.`, { migrations: names }),
  /** What a caller learns of a bug: nothing but that it happened (the log has the rest). */
  internal: (message = 'Something went wrong on the server; the details are in its log.') => new AppError('internal_error', message),

  // Signing in (identity)
  unauthenticated: (message = 'Sign in first: send the session cookie or an `Authorization: Bearer <token>` header.') =>
    new AppError('unauthenticated', message),
  invalidCredentials: () =>
    new AppError('invalid_credentials', 'The username, password or one-time code is not correct.'),
  totpRequired: () =>
    new AppError('totp_required', 'This account uses two-factor sign-in: send the 6-digit `totp` code from your authenticator app.'),
  accountLocked: (until: Date) =>
    new AppError('account_locked', `Too many failed sign-ins: the account is locked until ${until.toISOString()}.`, {
      lockedUntil: until.toISOString(),
    }),
  /** Too many attempts from one address or at one account: the HTTP answer carries `Retry-After`. */
  tooManyRequests: (retryAfterSeconds: number, message = `Too many attempts: wait ${retryAfterSeconds} s before trying again.`) =>
    new AppError('too_many_requests', message, { retryAfterSeconds }),
  csrf: () =>
    new AppError('csrf_token_invalid', 'Send the `X-CSRF-Token` header with the token from POST /api/v1/auth/login or GET /api/v1/me.'),
  /** The right password of a user who signs in only through the OpenID Connect provider. */
  passwordSignInDisabled: () =>
    new AppError('password_sign_in_disabled', 'This account signs in through its OpenID Connect provider, not with a password: use "Sign in with …" (at the SSH gateway, your SSH key).'),
  /** The provider's discovery document could not be read; the log has why. */
  oidcUnavailable: () => new AppError('oidc_unavailable', 'The OpenID Connect provider cannot be reached at the moment: try again shortly, or sign in with a password.'),
  oidcSignInExpired: () =>
    new AppError('oidc_sign_in_expired', 'This sign-in through the provider is no longer under way (it expired, was already used, or was started in another browser): start again.'),
  /** Creating tokens, adding SSH keys, TOTP and passwords need a web session that proved the password lately. */
  recentSignInRequired: (message: string, details?: ErrorDetails) => new AppError('recent_sign_in_required', message, details),
  /** A user administrator acting on an account that holds a privilege they do not. */
  morePrivilegedUser: (message: string, details?: ErrorDetails) => new AppError('more_privileged_user', message, details),
  /** `objects` names those of them the caller may see (at most a few); `count` counts them all, when known. */
  applicationInUse: (key: string, count: number | null, objects: readonly { type: string; businessKey: string }[] = []) => {
    const listed = objects.map((object) => `${object.type} ${object.businessKey}`);
    const rest = (count ?? 0) - objects.length;
    const names = listed.length === 0 ? '' : `: ${listed.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`;
    return new AppError(
      'application_in_use',
      `Application ${key} is still used by ${count === null ? 'other objects' : `${count} object(s)`}${names}. Move them to another application (or none), or delete them, first.`,
      { count, objects },
    );
  },
  /** `vault rotate` given a single master key where it needs the new one and the old one. */
  vaultRotationNeedsKeys: () =>
    new AppError(
      'vault_rotation_needs_keys',
      [
        'The master key comes from CHANGEGATE_MASTER_KEY (or masterKey in the config file), which holds one key: Changegate cannot put a new key there.',
        'Generate a new key and give both, the new one first, for this one run:',
        '  NEW=$(openssl rand -base64 32)',
        '  CHANGEGATE_MASTER_KEY="$NEW,<old key>" changegate vault rotate',
        'then set CHANGEGATE_MASTER_KEY to the new key alone and restart the server.',
      ].join('\n'),
    ),

  // The event log
  /** A tree size, entry or pair of sizes the event log's Merkle tree cannot answer for. */
  invalidLogRange: (message: string, details?: ErrorDetails) => new AppError('invalid_log_range', message, details),

  // Backups
  backupNotEmbedded: () =>
    new AppError('backup_not_embedded', 'This Changegate keeps its data in PostgreSQL, not in the embedded database: `changegate backup` snapshots only the embedded one. Back PostgreSQL up with pg_dump (docs/backups.md).'),

  // Changes and requests
  changeCancelled: (change: string, cancelledAt: Date) =>
    new AppError('change_cancelled', `Change ${change} was cancelled on ${cancelledAt.toISOString()}: it cannot be edited.`),
  scriptFrozen: (change: string, frozenAt: Date) =>
    new AppError(
      'script_frozen',
      `The script of ${change} is frozen since ${frozenAt.toISOString()}, when its first session started: the audit compares the sessions with it. Register a new change for a different script.`,
    ),
  /** `scriptErrors` are the script's errors with their line and column, for editors and the CLI. */
  scriptInvalid: (problems: readonly FieldProblem[], scriptErrors: readonly unknown[]) =>
    new AppError('script_invalid', `The script has ${scriptErrors.length} error(s): ${problems.map((problem) => problem.message).join('; ')}.`, {
      problems,
      errors: scriptErrors,
    }),
  changeAmbiguous: (device: string, choices: readonly { change: string; title: string; dueAt: string }[]) =>
    new AppError(
      'change_ambiguous',
      `Several open changes include ${device}: pick one (${choices.map((choice) => `${choice.change} "${choice.title}"`).join(', ')}).`,
      { choices },
    ),
  justificationRequired: (group: string, change: string) =>
    new AppError('justification_required', `Access group ${group} requires a justification: say why you need to run ${change} now.`, {
      problems: [{ path: '/justification', message: 'required by the access group' }],
    }),
  // Why a user cannot run a change on a device now: 403, each with its own code for the gateway and the CLI.
  /** `change` is the change the user named, when they named one. */
  noChange: (device: string, change?: string) =>
    new AppError(
      'no_change',
      change === undefined ? `No change lets you onto device ${device}: ask a planner to register one that includes it.` : `Change ${change} does not include device ${device}.`,
    ),
  /** `groups` are the access groups the user may see. */
  notExecutor: (device: string, groups: readonly string[]) =>
    new AppError(
      'not_executor',
      groups.length > 0
        ? `You are not an executor of access group ${groups.join(' or ')}, which runs the changes on ${device}.`
        : `You are not an executor of the access group that runs the changes on ${device}.`,
      { groups },
    ),
  plannerMayNotExecute: (changes: readonly string[]) =>
    new AppError(
      'planner_may_not_execute',
      `You planned ${changes.join(', ')}, and its access group does not let the planner execute it: another executor must run it.`,
    ),
  approvalOutdated: (request: number, change: string, device: string) =>
    new AppError(
      'approval_outdated',
      `Request #${request} was approved for ${change} as it was planned then; its window, devices, script or access group changed since, so the approval no longer holds. Ask again for a new approval ("again": true in the API, or \`changegate request create ${device} --again\`).`,
      { request, change },
    ),
  windowNotOpen: (change: string, device: string, opensAt: Date) =>
    new AppError('window_not_open', `The window of ${change} on ${device} opens at ${opensAt.toISOString()}: connect again then.`, {
      change,
      opensAt: opensAt.toISOString(),
    }),
  windowClosed: (change: string, device: string, closedAt: Date) =>
    new AppError('window_closed', `The window of ${change} on ${device} closed at ${closedAt.toISOString()}: ask a planner for a new change.`, {
      change,
      closedAt: closedAt.toISOString(),
    }),
  /** Asking to run a cancelled change: a denial like the others, hence 403 where editing one is 409. */
  changeCancelledForRequest: (change: string, device: string, reason: string | null) =>
    new AppError('change_cancelled', `Change ${change} on ${device} was cancelled${reason ? `: ${reason}` : ''}.`, { change }, ERROR_CATALOGUE.change_cancelled.alsoStatus),
  requestNotPending: (request: number, status: string) =>
    new AppError('request_not_pending', `Request #${request} is ${status}: it cannot change any more.`, { status }),
  requestExpired: (request: number, change: string) =>
    new AppError('request_not_pending', `Request #${request} expired: the window of ${change} is no longer open.`),
  requestNotApproved: (request: number, status: string) =>
    new AppError(
      'request_not_approved',
      `Request #${request} is ${status}: only an approved request can be revoked${status === 'pending' ? ' (deny a pending one)' : ''}.`,
      { status },
    ),
  selfApproval: () => new AppError('self_approval', 'You cannot decide your own request: another approver of the group must.'),

  // Sessions
  tooManyWatchersOfSession: (session: number, limit: number) =>
    new AppError('too_many_watchers', `Session ${session} has ${limit} watchers already: try again once one of them has left.`),
  tooManyWatchersOfUser: (limit: number) =>
    new AppError('too_many_watchers', `You are watching ${limit} times already: close a watch before opening another.`),
  /** Sent on the watch's WebSocket, which then closes with 4008. */
  watcherFellBehind: () =>
    new AppError('watcher_too_slow', 'The watch fell too far behind the session and was ended: watch again to catch up from the recording.'),
  watcherStalled: (seconds: number) =>
    new AppError('watcher_too_slow', `The watch took nothing of the recording for ${seconds} s and was ended: watch again when you can read it.`),
  sessionEnded: (session: number, reason: string | null) => new AppError('session_ended', `Session ${session} already ended (${reason}).`),
  sessionElsewhere: (session: number, waitedSeconds: number) =>
    new AppError(
      'session_elsewhere',
      `Session ${session} runs on another Changegate instance, which did not end it within ${waitedSeconds} s: try again; if that instance has stopped, the session is marked interrupted once it is found silent.`,
    ),
  /** A line held for review is decided by an approver other than the user who typed it, as a request is. */
  selfReview: (review: number) => new AppError('self_approval', `Review #${review} holds a line you typed: another approver of the access group must decide it.`),
  /** `status` is how the review ended, or what the policy decided of a line it did not hold. */
  reviewNotPending: (review: number, status: string) => new AppError('review_not_pending', `Review #${review} is not pending (${status}): there is nothing to decide.`, { status }),

  // Devices and credentials (inventory)
  deviceUnreachable: (hostname: string, port: number, reason: string) => new AppError('device_unreachable', `Cannot reach ${hostname}:${port}: ${reason}.`),
  unreadableHostKey: (problem: string) => new AppError('device_unreachable', `The device offered a host key Changegate cannot read: ${problem}.`),
  /** A device shows another host key than the pinned one: possibly a machine in the middle. */
  hostKeyMismatch: (device: DeviceKey, offered: string) =>
    new AppError(
      'host_key_mismatch',
      `Device ${device.name} presented host key ${offered}, not the pinned ${device.hostKeyFingerprint}. ` +
        'If the server was really reinstalled, an administrator must pin the new key (PATCH the device with hostKey); otherwise someone may be in the middle.',
      { pinned: device.hostKeyFingerprint, offered },
    ),
  /** A device that holds credentials is not pinned on first use: its key must be checked out of band. */
  hostKeyUnverified: (device: DeviceKey, offered: string, credentials: readonly string[]) =>
    new AppError(
      'host_key_unverified',
      `Device ${device.name} offered host key ${offered}. It holds credentials (${credentials.join(', ')}), so a key is not trusted on first use: ` +
        `check that fingerprint on the server itself (ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub), then test the connection again with "expectedFingerprint": "${offered}" (needs Device.Pin). ` +
        'Nothing was pinned.',
      { pinned: device.hostKeyFingerprint, offered, credentials },
    ),
  /** The caller checked one fingerprint out of band, and the device offered another. */
  hostKeyNotExpected: (device: DeviceKey, expected: string, offered: string) =>
    new AppError(
      'host_key_not_expected',
      `Device ${device.name} offered host key ${offered}, not the ${expected} you expected: nothing was pinned. ` +
        'Check the address and the fingerprint on the server itself; a server that shows another key than its own may be someone in the middle.',
      { pinned: device.hostKeyFingerprint, expected, offered },
    ),
  /** Confirming a credential for a key the device does not have pinned (any more). */
  notThePinnedKey: (device: DeviceKey, given: string) =>
    new AppError(
      'host_key_not_pinned',
      `Device ${device.name} has host key ${device.hostKeyFingerprint} pinned, not ${given}: a credential is confirmed only for the pinned key. ` +
        'Read the device again and confirm the fingerprint it shows, once you have checked it.',
      { pinned: device.hostKeyFingerprint, given },
    ),
  /** A device with no pinned key yet: nothing to confirm a credential for. */
  hostKeyNotPinned: (device: string) =>
    new AppError('host_key_not_pinned', `Device ${device} has no host key pinned: pin it first (test the connection), then confirm the credential for it.`, {
      pinned: null,
    }),

  // Auditing
  /** `message` is the one refusal the built-in rule has everywhere (imports and restores say it too). */
  builtinRule: (message: string) => new AppError('builtin_rule', message),
  /** A query that cannot be understood, naming what is wrong and the column where. */
  searchInvalid: (problem: { readonly column: number; readonly token: string; readonly message: string }, query: string) =>
    new AppError('search_invalid', `The search cannot be read at column ${problem.column} ("${problem.token}"): ${problem.message}`, {
      column: problem.column,
      token: problem.token,
      query,
    }),
  restoreUnavailable: (reason: string) => new AppError('restore_unavailable', reason),
  restoreUnknownType: (entry: number, objectType: string) =>
    new AppError('restore_unavailable', `Entry #${entry} cannot be restored: objects of type ${objectType} are not known here.`),
  restoreBlocked: (entry: number, side: string, blockers: readonly string[]) =>
    new AppError('restore_blocked', `Entry #${entry} cannot be restored to ${side}: ${blockers.join('; ')}. Nothing was written.`, { blockers }),
  notInTrash: (entry: number, why: string) => new AppError('not_in_trash', `Entry #${entry} is not in the Trash Can: ${why}.`),
  /** A promotion that the other instance refused, or that did not reach it: 502, naming the target. */
  promoteFailed: (target: { readonly name: string; readonly url: string }, why: string, details: Record<string, unknown>) =>
    new AppError('promote_failed', `Promotion to ${target.name} (${target.url}) failed: ${why}.`, { target: target.name, ...details }),

  // Evidence
  evidenceTooLarge: (change: string, bytes: number, limit: number) =>
    new AppError(
      'evidence_too_large',
      `The evidence bundle of ${change} would hold at least ${bytes} bytes, more than the ${limit} bytes one bundle may hold (a zip the verifiers read whole): download the recordings one by one (\`changegate session download\`) and verify each against the log.`,
      { bytes, limit },
    ),
} as const;
