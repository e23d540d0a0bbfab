import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AuditRecorder, auditRuleKind, AuditRuleService, AuditTrailService, BundleService, ensureBuiltinRule, filterKind, FilterService } from './auditing/index.ts';
import { auditingRoutes } from './auditing/auditing.routes.ts';
import { ObjectStore } from './objects/index.ts';
import { accessGroupKind, changeKind, changesCoveringDevice, RequestChanges } from './changes/index.ts';
import { accessGroupRoles } from './changes/access-group-roles.ts';
import { credentialKind, deviceKind } from './inventory/index.ts';
import { webhookKind } from './notifications/index.ts';
import { applicationKind, partitionKind } from './objects/index.ts';
import { contactsOf, existingUsernames, timeZoneOf, userKind } from './identity/index.ts';
import { AccessGroupService, ChangeService, RequestService } from './changes/index.ts';
import { changeRoutes } from './changes/changes.routes.ts';
import {
  appendEvent,
  CheckpointPublisher,
  DirectorySink,
  findEntries,
  latestCheckpoint,
  loadLogSigningKey,
  SiemExport,
  siemSinkOf,
  StoredTreeHead,
  treeSize,
  WitnessSink,
  witnessesOf,
  type LogSigningKey,
} from './eventlog/index.ts';
import { CheckpointService, EventLogService, LogVerifyService, LogProofService } from './evidence/index.ts';
import { eventRoutes } from './evidence/event.routes.ts';
import { logRoutes } from './evidence/log.routes.ts';
import { proofRoutes } from './evidence/proof.routes.ts';
import { EvidenceService } from './evidence/index.ts';
import { evidenceRoutes } from './evidence/evidence.routes.ts';
import { CredentialService, DeviceService, type Device, INVENTORY_SEALED_COLUMNS, sshHostKeyProbe, type HostKeyProbe } from './inventory/index.ts';
import { inventoryRoutes } from './inventory/inventory.routes.ts';
import { DeliveryService, Dispatcher, NOTIFICATION_SEALED_COLUMNS, NotificationService, WebhookService, type Notice } from './notifications/index.ts';
import { notificationRoutes } from './notifications/notification.routes.ts';
import { webhookRoutes } from './notifications/webhook.routes.ts';
import { alertSubscribers, DeviationAlerts, LiveBoards, ReviewService } from './review/index.ts';
import { reviewRoutes } from './review/review.routes.ts';
import {
  CommandDecisions,
  CommandWriter,
  findSession,
  Gateway,
  heartbeat,
  InstanceService,
  listSessions,
  LiveSessions,
  loadGatewayHostKey,
  RECORDING_CHUNKS_ACTION,
  RecordingLog,
  SessionRunner,
  SessionService,
  sshUpstream,
  type LoggedRecordingChunk,
  type UpstreamConnector,
} from './sessions/index.ts';
import { sessionRoutes } from './sessions/session.routes.ts';
import { commandReviewRoutes } from './sessions/command-review.routes.ts';
import { limitHandshakes } from './sessions/upstream.ts';
import { DatabaseRecordingStore, FileRecordingStore, RECORDING_CHANNEL, RecordingStores, sessionsOfRecordingNotice } from './sessions/index.ts';
import { ChannelWakes } from './platform/notifications.ts';
import { instanceRoutes } from './sessions/instance.routes.ts';
import { AuthService, bootstrapInstallation, GrantService, IDENTITY_SEALED_COLUMNS, OidcService, oidcSettingsOf, PartitionService, UserService, type BootstrapResult } from './identity/index.ts';
import { authRoutes, registerAuthentication } from './identity/auth.routes.ts';
import { grantRoutes } from './identity/grant.routes.ts';
import { partitionRoutes } from './identity/partition.routes.ts';
import { userRoutes } from './identity/user.routes.ts';
import { oidcRoutes } from './identity/oidc.routes.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { recordingStoreOf, type Config } from './platform/config.ts';
import { migrate, openDatabase, type DatabaseHandle, type Tx } from './platform/database.ts';
import { healthRoutes } from './platform/health.routes.ts';
import { API_PREFIX, createHttpServer, type Api } from './platform/http.ts';
import { InstanceRegistry, type SingletonWork } from './platform/instances.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { Metrics, metricsMode, MetricsServer } from './platform/metrics.ts';
import { metricsRoutes } from './platform/metrics.routes.ts';
import { OutboundAddresses } from './platform/outbound-address.ts';
import type { SealedColumn } from './platform/reseal.ts';
import { loadOrCreateKeyFile, parseMasterKeys, SecretBox } from './platform/secret-box.ts';
import { VERSION } from './platform/version.ts';
import { BackupService, type BackupSources } from './platform/backup.service.ts';
import { backupRoutes } from './platform/backup.routes.ts';
import { actorOf, requirePrivilege, SYSTEM } from './access/index.ts';
import { latestTrustedCheckpoint } from './eventlog/checkpoint-trust.ts';
import { verifierOf } from './eventlog/signed-note.ts';

export { VERSION } from './platform/version.ts';

/** Every column whose values the master key seals, as each module declares them: what `vault rotate` re-seals. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [...INVENTORY_SEALED_COLUMNS, ...IDENTITY_SEALED_COLUMNS, ...NOTIFICATION_SEALED_COLUMNS];


export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly grants: GrantService;
  readonly partitions: PartitionService;
  readonly events: EventLogService;
  readonly proofs: LogProofService;
  readonly checkpoints: CheckpointService;
  readonly logVerify: LogVerifyService;
  readonly devices: DeviceService;
  readonly credentials: CredentialService;
  readonly groups: AccessGroupService;
  readonly changes: ChangeService;
  readonly requests: RequestService;
  readonly notifications: NotificationService;
  readonly webhooks: WebhookService;
  readonly deliveries: DeliveryService;
  readonly auditRules: AuditRuleService;
  readonly auditTrail: AuditTrailService;
  readonly filters: FilterService;
  readonly bundles: BundleService;
  readonly sessions: SessionService;
  /** What command policies decided in sessions, and the review of held lines. */
  readonly commandReviews: CommandDecisions;
  readonly reviews: ReviewService;
  readonly evidence: EvidenceService;
  readonly instances: InstanceService;
  /** Sign-in through an OpenID Connect provider (docs/oidc.md); undefined when none is configured. */
  readonly oidc: OidcService | undefined;
}

/** How often the server expires requests whose change window closed. */
const EXPIRY_INTERVAL_MS = 30_000;
/** How often a serving instance says its sessions are alive (and how many bytes they moved). */
const HEARTBEAT_INTERVAL_MS = 15_000;
/** How often a draining instance looks whether its last session has ended. */
const DRAIN_POLL_MS = 200;

/** What `startBackground` started: the SSH gateway's port and host key fingerprint. */
export interface Started {
  readonly sshPort: number;
  readonly gatewayFingerprint: string;
  /** Sessions a crash had left open, now marked interrupted. */
  readonly interruptedSessions: number;
  /** Where `/metrics` listens when it has a port of its own (`CHANGEGATE_METRICS_PORT`). */
  readonly metricsPort?: number;
}

/** Changegate's database and services, without HTTP: what the CLI works with. */
export interface ChangegateCore {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly services: Services;
  readonly bootstrap: BootstrapResult;
  /** True on the first start without CHANGEGATE_MASTER_KEY: the key file was just written. */
  readonly masterKeyCreated: boolean;
  /** The one place configuration objects are written; the audit rules hook in here. */
  readonly objects: ObjectStore;
  /** The master key ring that seals every secret at rest. */
  readonly secrets: SecretBox;
  /** Sends queued e-mails and webhook calls. */
  readonly dispatcher: Dispatcher;
  /** Brokers, connects and records sessions, behind the SSH gateway and the web terminal. */
  readonly runner: SessionRunner;
  /** Where recordings are kept: both stores, and the one new recordings go to. */
  readonly recordings: RecordingStores;
  /** The key that signs the event log's checkpoints (outside the database), and the log's origin. */
  readonly logSigningKey: LogSigningKey;
  /** Signs checkpoints of the event log and copies them to the sinks; runs once `startBackground` starts it. */
  readonly checkpointPublisher: CheckpointPublisher;
  /** This instance among those sharing the database: its id, its row in `instance`, its leases. */
  readonly instance: InstanceRegistry;
  /** What `/metrics` reports (docs/metrics.md); undefined when metrics are off. */
  readonly metrics: Metrics | undefined;
  /** Consistent snapshots of the embedded database, the recordings and the keys (docs/backups.md). */
  readonly backups: BackupService;
  /** Streams the event log to the SIEM sink configured (docs/siem.md); runs once `startBackground` starts it. */
  readonly siemExport: SiemExport | undefined;
  /**
   * Starts what a serving instance runs besides HTTP: marks sessions a crash left open as
   * interrupted, opens the SSH gateway, registers the instance (`httpPort` is where its HTTP
   * listens), and starts deliveries, heartbeats and the work one instance at a time does (request
   * expiry, the web-session purge, the takeover scan, periodic checkpoint signing). `close()`
   * stops it all and marks the instance stopped.
   */
  startBackground(options?: { readonly httpPort?: number }): Promise<Started>;
  /**
   * One heartbeat, as the timer runs it every `instanceHeartbeatSeconds`: the instance says it is
   * alive and, if it holds the takeover lease, marks interrupted the open sessions of instances gone
   * silent or stopped. Returns how many it marked.
   */
  heartbeat(): Promise<number>;
  /**
   * Drains the instance before it stops: marks it draining (readiness answers 503, its row says
   * so), starts no new session at the gateway or the web terminal, tells each live session's user
   * once, and resolves when they have all ended, or after `graceMs`, when the rest end as
   * `gateway_stopped`. `close()` follows.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** One running Changegate: the core plus its HTTP app, not yet listening. */
export interface Changegate extends ChangegateCore {
  readonly app: Api;
  /** Stops accepting requests, lets those under way finish, then closes the database. */
  close(): Promise<void>;
}

export interface ChangegateOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** An already open database (tests); otherwise the one the configuration names. It is not closed by `close()`. */
  readonly database?: DatabaseHandle;
  /** How devices' host keys are read; tests may pass their own. */
  readonly hostKeys?: HostKeyProbe;
  /** How sessions reach devices; tests may pass their own. */
  readonly upstream?: UpstreamConnector;
  /**
   * Session timing: warnings before the due date (default 5 and 1 minutes), how often a waiting
   * user's request is checked, how long a replaying watcher may take nothing (default 60 s).
   */
  readonly sessionTiming?: {
    readonly warningsBeforeDueMs?: readonly number[];
    readonly decisionPollMs?: number;
    readonly watchStallMs?: number;
    /** How long a deviation alert waits for more of a burst (`DEVIATION_WINDOW_MS` unless set). */
    readonly deviationWindowMs?: number;
  };
}

/** Opens the database, applies migrations, prepares the first start and builds the services. */
export async function openChangegate(options: ChangegateOptions): Promise<ChangegateCore> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const database =
    options.database ??
    (await openDatabase(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir }));
  let dispatcher: Dispatcher | undefined;
  let gateway: Gateway | undefined;
  let auth: AuthService | undefined;
  let checkpointPublisher: CheckpointPublisher | undefined;
  let recordingLog: RecordingLog | undefined;
  let recordings: RecordingStores | undefined;
  let commandReviews: CommandDecisions | undefined;
  let siemExport: SiemExport | undefined;
  const live = new LiveSessions();
  const metrics = metricsMode(config) === 'off' ? undefined : new Metrics({ clock, logger: options.logger });
  let metricsServer: MetricsServer | undefined;
  // A waiting user connects as soon as their request is decided, on whichever instance.
  const requestChanges = new RequestChanges(database.notifications);
  // A watcher here follows a session another instance runs as its recording grows in the shared store.
  const recordingGrowth = new ChannelWakes(database.notifications, RECORDING_CHANNEL, sessionsOfRecordingNotice);
  const timers: NodeJS.Timeout[] = [];
  /** Set once `startBackground` registered the instance: a clean close marks it stopped. */
  let registered: InstanceRegistry | undefined;
  const close = async () => {
    for (const timer of timers) clearInterval(timer);
    await metricsServer?.close();
    await gateway?.close();
    // The counts of refused sign-ins so far go to the event log before the database closes.
    await auth?.close();
    await Promise.all(live.all().map((session) => session.stop()));
    await recordingLog?.close();
    // The recorders closed with the sessions: their last chunks are committed before the database closes.
    await recordings?.close();
    await dispatcher?.stop();
    // The last checkpoint covers everything logged until now, the sessions' ends included.
    await checkpointPublisher?.close();
    // What was logged until now, the shutdown's own entries included, goes to the SIEM while the lease is still held.
    await siemExport?.close();
    // Its sessions have ended: the others need not wait for its silence, and take its work on their next pass.
    await registered?.stop().catch((error: unknown) => options.logger?.error({ err: error }, 'marking the instance stopped failed'));
    await live.leaveCluster();
    await requestChanges.stop();
    await commandReviews?.stop();
    await recordingGrowth.stop();
    if (!options.database) await database.close();
  };
  try {
    await migrate(database.db);
    const { secrets, created: masterKeyCreated } = await openSecretBox(config);
    const logSigningKey = await loadLogSigningKey(config);
    const witnesses = witnessesOf(config.witnesses);
    const bootstrap = await bootstrapInstallation(database.db, clock, { adminPassword: config.adminPassword });
    const db = database.db;
    // A session's recording is read from the store its row names; new ones go where the setting says.
    const stores = new RecordingStores(
      new FileRecordingStore(path.join(config.dataDir, 'recordings')),
      new DatabaseRecordingStore({ db, clock, logger: options.logger }),
      recordingStoreOf(config),
    );
    recordings = stores;
    const objects = new ObjectStore(clock);
    objects.register(partitionKind, applicationKind, userKind, deviceKind, credentialKind, accessGroupKind, changeKind, webhookKind, auditRuleKind, filterKind);
    objects.addHook(new AuditRecorder());
    await database.db.transaction().execute((trx) => ensureBuiltinRule(trx, clock.now()));
    // Identity answers what auditing and notifications ask about users: it sits beside them, not below.
    const users = { existingUsernames, timeZoneOf, recipientsOf: contactsOf };
    const filters = new FilterService({ db, clock, objects, publicUrl: config.publicUrl });
    // Webhooks reach public addresses only, checked at save and again at each delivery.
    const webhookAddresses = new OutboundAddresses({ allow: config.webhookAllow });
    const activeDispatcher = new Dispatcher({
      db,
      clock,
      secrets,
      publicUrl: config.publicUrl ?? `http://localhost:${config.httpPort}`,
      smtpUrl: config.smtpUrl,
      smtpFrom: config.smtpFrom,
      webhookAddresses,
      logger: options.logger,
      metrics,
    });
    dispatcher = activeDispatcher;
    const wake = () => activeDispatcher.wake();
    const notifications = new NotificationService({ db, clock, emailEnabled: config.smtpUrl !== undefined, users });
    const notifier = {
      notify: async (trx: Tx, notice: Notice) => {
        await notifications.notify(trx, notice);
        // Deliver soon after the notifying transaction commits, not on the next poll.
        setImmediate(wake);
      },
    };
    const requests = new RequestService({ db, clock, notifier, live, metrics });
    // Each session's board against its change's script, kept as its commands are captured; deviations alerted as its group asks.
    const liveBoards = new LiveBoards({ db, clock, alerts: new DeviationAlerts({ db, clock, notifier, subscribers: alertSubscribers, logger: options.logger, windowMs: options.sessionTiming?.deviationWindowMs }),
    });
    const changes = new ChangeService({ db, clock, objects, requests, live });
    const credentials = new CredentialService({ db, objects, vault: secrets });
    auth = new AuthService({ db, clock, secrets, policy: config, logger: options.logger });
    // Checked before anything listens: a mapping naming no privilege stops the start with a ConfigError.
    const oidcSettings = oidcSettingsOf(config);
    const oidc = oidcSettings && new OidcService({ db, clock, secrets, auth, settings: oidcSettings, logger: options.logger });
    const instanceId = await loadInstanceId(config);
    const registry = new InstanceRegistry({ db, clock, id: instanceId, version: VERSION, heartbeatMs: config.instanceHeartbeatSeconds * 1000, metrics });
    const siemSink = await siemSinkOf(config);
    // One instance of those sharing the database exports at a time; any of them wakes it by appending.
    siemExport = siemSink && new SiemExport({ db, clock, sink: siemSink, holder: instanceId, notifications: database.notifications, logger: options.logger });
    // A held line waits for an approver on any instance sharing the database.
    commandReviews = new CommandDecisions({ db, clock, notifier, notifications: database.notifications, logger: options.logger });
    const services: Services = {
      auth,
      // Access-group roles count toward what a user administrator must hold to act on an account.
      users: new UserService({ db, clock, objects, live, roles: accessGroupRoles }),
      grants: new GrantService({ db, clock }),
      partitions: new PartitionService({ db, clock, objects }),
      events: new EventLogService({ db }),
      proofs: new LogProofService({ db }),
      checkpoints: new CheckpointService({ db, signingKey: logSigningKey, witnesses }),
      logVerify: new LogVerifyService({ db, signingKey: logSigningKey }),
      devices: new DeviceService({
        db,
        clock,
        objects,
        hostKeys: options.hostKeys ?? sshHostKeyProbe,
        // A device's new address or key cancels its open requests.
        requests,
        // A device in a change is not deleted.
        changes: { covering: changesCoveringDevice },
        live,
      }),
      credentials,
      groups: new AccessGroupService({ db, objects }),
      changes,
      requests,
      notifications,
      webhooks: new WebhookService({ db, clock, objects, secrets, addresses: webhookAddresses, wake }),
      deliveries: new DeliveryService({ db, clock, users, wake }),
      auditRules: new AuditRuleService({ db, objects, users, filters, publicUrl: config.publicUrl }),
      auditTrail: new AuditTrailService({
        db,
        clock,
        objects,
        users,
        filters,
        // A restore does what the same edit does: a device's requests cancelled and sessions ended
        // when its address or key changes; a user's profile only by whom may edit it.
        consequences: {
          afterRestore: async (trx, actor, write) => {
            if (write.type === 'Device' && write.before) return services.devices.afterWrite(trx, actor, write.before as Device, write.after as Device);
            // A user administrator restores only the profile of a user they could edit directly.
            if (write.type === 'User') return services.users.afterWrite(trx, actor, write.after.id);
            return undefined;
          },
        },
      }),
      filters,
      bundles: new BundleService({ db, clock, objects, filters, users, version: VERSION, publicUrl: config.publicUrl, promoteTargets: config.promoteTargets }),
      sessions: new SessionService({ db, clock, live, scripts: changes, watchStallMs: options.sessionTiming?.watchStallMs, recordings: stores, recordingGrowth, progress: liveBoards }),
      commandReviews,
      reviews: new ReviewService({ db, clock, boards: liveBoards, running: (sessionId) => live.get(sessionId)?.progress?.() }),
      // An export waits for the publisher's next pass when the latest checkpoint does not cover it (the publisher is built below).
      evidence: new EvidenceService({
        db,
        clock,
        boards: { audit: (actor, change) => services.reviews.audit(actor, change) },
        recordings: stores,
        log: { key: () => services.checkpoints.key(), latest: (actor) => services.checkpoints.latest(actor), checkpointCovering: (size) => activePublisher.checkpointCovering(size) },
      }),
      instances: new InstanceService({ db, registry }),
      oidc,
    };
    const activePublisher = new CheckpointPublisher({
      db,
      clock,
      // The root from the stored subtree hashes, rechecked against the leaves since the last checkpoint before it is signed.
      treeHead: new StoredTreeHead(db),
      signingKey: logSigningKey,
      intervalSeconds: config.checkpointIntervalSeconds,
      sinks: [
        ...(config.checkpointDir ? [new DirectorySink(config.checkpointDir)] : []),
        ...witnesses.map((witness) => new WitnessSink(witness)),
      ],
      logger: options.logger,
      // Instances sharing the database sign in turn: the holder of the lease, each interval.
      signsPeriodically: () => registry.holds('checkpoint-signing', config.checkpointIntervalSeconds * 1000),
    });
    checkpointPublisher = activePublisher;
    recordingLog = new RecordingLog({ db, clock, logger: options.logger });
    const commandWriter = new CommandWriter({ db, logger: options.logger });
    const runner = new SessionRunner({
      db,
      clock,
      requests: services.requests,
      sessions: services.sessions,
      credentials,
      // Many sessions starting together on one device take turns at its handshake (sshd drops a crowd).
      upstream: limitHandshakes(options.upstream ?? sshUpstream),
      live,
      recordings: stores.forNew,
      instanceId,
      recordingLog,
      // One writer for every session's captured commands: the database sees a batch, not a statement each.
      commands: commandWriter,
      requestChanges,
      reviews: services.commandReviews,
      ...options.sessionTiming,
      logger: options.logger,
      signIns: services.auth,
      progress: liveBoards,
      metrics,
      // The change audit's score follows each session as it ends.
      onSessionEnd: async (sessionId) => {
        const session = await findSession(db, sessionId);
        if (session) await services.reviews.recomputeAfterSession(session.changeId);
      },
    });
    // Read when Prometheus scrapes: the state as it is, one cheap read each.
    metrics?.readAtScrape({
      liveSessions: () => live.all().length,
      commandBacklog: () => commandWriter.backlog,
      captureBacklogBytes: () => live.all().reduce((sum, session) => sum + (session.captureBacklogBytes?.() ?? 0), 0),
      eventLog: async () => {
        const checkpoint = await latestCheckpoint(db);
        return { entries: await treeSize(db), checkpoint: checkpoint && { size: checkpoint.size, createdAt: checkpoint.createdAt } };
      },
      instances: () => registry.list(),
    });
    const heartbeatMs = config.instanceHeartbeatSeconds * 1000;
    const instanceHeartbeat = async (): Promise<number> => {
      await registry.beat();
      if (!(await registry.holds('session-takeover', heartbeatMs))) return 0;
      const interrupted = await services.sessions.recoverInterrupted({ instances: await registry.silence() });
      metrics?.sessionEnded('interrupted', interrupted);
      // Their changes' scores, which no session end recomputed.
      if (interrupted > 0) await services.reviews.recomputeAfterInterruptions();
      return interrupted;
    };
    const drain = async (graceMs: number): Promise<void> => {
      runner.refuseNewSessions();
      await registry.drain();
      const seconds = Math.ceil(graceMs / 1000);
      for (const session of live.all()) {
        session.tell(`Changegate on this server is stopping: your session ends in ${seconds} s; connect again to continue on another instance.`);
      }
      await sessionsEnded(live, graceMs);
      await Promise.all(live.all().map((session) => session.stop()));
    };
    const startBackground = async (started: { readonly httpPort?: number } = {}): Promise<Started> => {
      // Ends asked of any instance reach this one's sessions; decisions made anywhere wake its waiting users.
      await live.joinCluster({ db, notifications: database.notifications, instanceId, logger: options.logger });
      await requestChanges.start();
      await services.commandReviews.start();
      await recordingGrowth.start();
      const interruptedSessions = await services.sessions.recoverInterrupted({ restarted: instanceId, instances: await registry.silence() });
      metrics?.sessionEnded('interrupted', interruptedSessions);
      // Their changes' scores, which no session end recomputed.
      if (interruptedSessions > 0) await services.reviews.recomputeAfterInterruptions();
      const hostKey = await loadGatewayHostKey(path.join(config.dataDir, 'gateway_host_ed25519_key'));
      gateway = new Gateway({
        auth: services.auth,
        runner,
        live,
        hostKey: hostKey.privateKey,
        logger: options.logger,
        authTimeoutSeconds: config.gatewayAuthTimeoutSeconds,
        maxUnauthenticated: config.gatewayMaxUnauthenticated,
        maxUnauthenticatedPerSource: config.gatewayMaxUnauthenticatedPerSource,
      });
      const sshPort = await gateway.listen(config.sshPort, config.httpHost);
      let metricsPort: number | undefined;
      if (metrics && config.metricsPort !== undefined) {
        metricsServer = new MetricsServer({ metrics, token: config.metricsToken, logger: options.logger });
        metricsPort = await metricsServer.listen(config.metricsPort, config.metricsHost);
      }
      await registry.register({ httpPort: started.httpPort ?? null, sshPort });
      registered = registry;
      activeDispatcher.start();
      activePublisher.start();
      await siemExport?.start();
      const every = (ms: number, work: () => Promise<unknown>, what: string) => {
        const timer = setInterval(() => void work().catch((error: unknown) => options.logger?.error({ err: error }, `${what} failed`)), ms);
        timer.unref();
        timers.push(timer);
      };
      // Work one instance at a time does: the holder of its lease, renewed on each run.
      const once = (work: SingletonWork, ms: number, run: () => Promise<unknown>, what: string) =>
        every(ms, async () => (await registry.holds(work, ms)) && (await run()), what);
      every(heartbeatMs, instanceHeartbeat, 'instance heartbeat');
      once('request-expiry', EXPIRY_INTERVAL_MS, () => services.requests.expireDue(), 'request expiry');
      once('web-session-purge', EXPIRY_INTERVAL_MS, () => services.auth.purgeExpiredWebSessions(), 'expired web session purge');
      every(HEARTBEAT_INTERVAL_MS, () => heartbeat(db, live.all().map((session) => ({ id: session.id, ...session.counters() })), clock.now()), 'session heartbeat');
      return { sshPort, gatewayFingerprint: hostKey.fingerprint, interruptedSessions, ...(metricsPort !== undefined && { metricsPort }) };
    };
    const checkpoints = { logSigningKey, checkpointPublisher: activePublisher };
    const backups = new BackupService({ database, dataDir: config.dataDir, clock, version: VERSION, sources: backupSourcesOf(logSigningKey, activePublisher, clock) });
    return {
      config,
      database,
      services,
      bootstrap,
      masterKeyCreated,
      objects,
      secrets,
      dispatcher: activeDispatcher,
      runner,
      recordings: stores,
      ...checkpoints,
      instance: registry,
      backups,
      metrics,
      siemExport,
      startBackground,
      heartbeat: instanceHeartbeat,
      drain,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The core plus the HTTP app with every route under /api/v1. */
export async function createChangegate(options: ChangegateOptions): Promise<Changegate> {
  const logger = options.logger ?? createLogger(options.config.logLevel);
  const core = await openChangegate({ ...options, logger });
  const { services, database, config } = core;
  try {
    const app = await createHttpServer({ logger, version: VERSION, trustedProxies: config.trustedProxies, metrics: core.metrics });
    // On the HTTP port only without a port of its own, and only with the token.
    if (core.metrics && metricsMode(config) === 'http-port' && config.metricsToken) metricsRoutes(app, { metrics: core.metrics, token: config.metricsToken });
    await app.register(
      async (api) => {
        registerAuthentication(api, services.auth);
        healthRoutes(api, { database, instance: core.instance });
        instanceRoutes(api, services.instances);
        authRoutes(api, { ...services, cookieSecure: config.cookieSecure });
        oidcRoutes(api, { oidc: services.oidc, cookieSecure: config.cookieSecure });
        userRoutes(api, services.users);
        grantRoutes(api, services.grants);
        partitionRoutes(api, services.partitions);
        eventRoutes(api, services.events);
        proofRoutes(api, services.proofs);
        logRoutes(api, services.checkpoints, services.logVerify);
        inventoryRoutes(api, services);
        changeRoutes(api, services);
        notificationRoutes(api, services.notifications);
        webhookRoutes(api, { webhooks: services.webhooks, deliveries: services.deliveries });
        auditingRoutes(api, services);
        sessionRoutes(api, { sessions: services.sessions, runner: core.runner });
        commandReviewRoutes(api, services.commandReviews);
        reviewRoutes(api, services.reviews);
        evidenceRoutes(api, services.evidence);
        backupRoutes(api, core.backups, actorOf);
      },
      { prefix: API_PREFIX },
    );
    await app.ready();
    return {
      ...core,
      app,
      close: async () => {
        await app.close();
        await core.close();
      },
    };
  } catch (error) {
    await core.close();
    throw error;
  }
}

/** This instance's name among several sharing one database, kept in its data directory. */
async function loadInstanceId(config: Config): Promise<string> {
  const file = path.join(config.dataDir, 'instance-id');
  await mkdir(config.dataDir, { recursive: true });
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const id = randomUUID();
    await writeFile(file, `${id}\n`, { flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

/** Where the master keys live when CHANGEGATE_MASTER_KEY is not set. */
export const masterKeyFile = (config: Config) => path.join(config.dataDir, 'master.key');

async function openSecretBox(config: Config): Promise<{ secrets: SecretBox; created: boolean }> {
  if (config.masterKey) return { secrets: new SecretBox(parseMasterKeys(config.masterKey) as Buffer[]), created: false };
  await mkdir(config.dataDir, { recursive: true });
  const { keys, created } = await loadOrCreateKeyFile(masterKeyFile(config));
  return { secrets: new SecretBox(keys), created };
}

/** What a backup reads of the event log and the sessions, on the connection its snapshot holds. */
function backupSourcesOf(signingKey: LogSigningKey, publisher: CheckpointPublisher, clock: Clock): BackupSources {
  const identity = { origin: signingKey.origin, key: verifierOf(signingKey.key) };
  return {
    authorize: (db, actor) => requirePrivilege(db, actor, 'System.Backup', SYSTEM),
    signCheckpoint: () => publisher.signNow(),
    logSize: (db) => treeSize(db),
    latestCheckpoint: async (db) => {
      const { trusted } = await latestTrustedCheckpoint(db, identity);
      return trusted && { size: trusted.size, rootHash: trusted.rootHash.toString('base64'), note: trusted.note };
    },
    fileRecordings: async (db) => {
      const sessions = (await listSessions(db, { partitionIds: 'all', limit: Number.MAX_SAFE_INTEGER })).filter((session) => session.recordingStore === 'files');
      const recordings = [];
      for (const session of sessions) {
        if (session.endedAt) {
          recordings.push({ session: session.id, location: session.recordingPath });
          continue;
        }
        // A live session's recording: as far as the log's last progress entry for it vouches.
        const [last] = await findEntries(db, { actions: [RECORDING_CHUNKS_ACTION], dataHolds: { chunks: [{ session: session.id }] }, newestFirst: true, limit: 1 });
        const chunk = ((last?.data.chunks ?? []) as LoggedRecordingChunk[]).find((logged) => logged.session === session.id);
        recordings.push({ session: session.id, location: session.recordingPath, loggedBytes: chunk?.bytes ?? 0 });
      }
      return recordings;
    },
    record: (trx, by, data) => appendEvent(trx, { actor: by, action: 'backup.create', subject: 'backup', data, time: clock.now() }),
    logKey: { verifierKey: signingKey.verifierKey, origin: signingKey.origin, file: signingKey.file },
  };
}

/** Resolves once no session runs in this instance any more, or after `ms`, whichever comes first. */
function sessionsEnded(live: LiveSessions, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(poll);
      clearTimeout(deadline);
      resolve();
    };
    const poll = setInterval(() => {
      if (live.all().length === 0) done();
    }, DRAIN_POLL_MS);
    const deadline = setTimeout(done, ms);
    if (live.all().length === 0) done();
  });
}
