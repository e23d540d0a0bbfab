import type { Kysely } from 'kysely';
import type { DeviationAlerts as DeviationAlertSetting } from '../changes/access-group.ts';
import { appendEvent } from '../eventlog/index.ts';
import type { Notice } from '../notifications/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import type { LiveCommandView } from './review.views.ts';
import { recordingTime } from '../sessions/index.ts';

/** A command that ran off the script while its session ran: not in it there (extra), or a step run before its turn. */
export interface Deviation {
  readonly kind: 'extra' | 'out_of_order';
  readonly command: LiveCommandView;
  /** For out_of_order: the step it carried out. */
  readonly step: string | null;
}

/** How long after a deviation the alert waits for more, so that a burst is one notice. */
export const DEVIATION_WINDOW_MS = 3_000;
/** Commands a notice lists; beyond, it says how many more. */
export const MAX_LISTED_DEVIATIONS = 20;
export const DEVIATION_NOTICE_KIND = 'session.deviation';

export interface DeviationAlertsDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly notifier: { notify(trx: Tx, notice: Notice): Promise<unknown> };
  /** Users who asked to hear of the change's deviations, besides its group's approvers. */
  readonly subscribers?: (db: Executor, changeId: string) => Promise<readonly string[]>;
  /** `DEVIATION_WINDOW_MS` unless set. */
  readonly windowMs?: number;
  readonly logger?: Logger;
}

/** Where a session runs and who hears of its deviations. */
export interface AlertedSession {
  readonly sessionId: string;
  readonly session: number;
  readonly change: string;
  readonly changeId: string;
  readonly device: string;
  /** The session's user: never alerted of their own commands. */
  readonly userId: string;
  readonly username: string;
  readonly approvers: readonly string[];
  readonly mode: DeviationAlertSetting;
}

/**
 * Alerts of deviations from the script while sessions run, as the access group asks: `off`,
 * `extra` (commands not in the script there), or `every` (out-of-order steps too). The first
 * deviation of a session opens a window of `windowMs`; every deviation until it closes goes into
 * one notice (in-app, e-mail, webhook) to the group's approvers and the change's subscribers, and
 * one `session.deviation` event. A session that ends sends what it holds at once.
 */
export class DeviationAlerts {
  constructor(private readonly deps: DeviationAlertsDeps) {}

  /** The alerts of one session, or undefined when its group alerts of nothing. */
  forSession(session: AlertedSession): SessionAlerts | undefined {
    if (session.mode === 'off') return undefined;
    return new SessionAlerts(session, this.deps);
  }
}

export class SessionAlerts {
  private pending: Deviation[] = [];
  private more = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: AlertedSession,
    private readonly deps: DeviationAlertsDeps,
  ) {}

  add(deviation: Deviation): void {
    if (this.session.mode === 'extra' && deviation.kind !== 'extra') return;
    // A burst of thousands is counted, not held: the notice lists the first ones.
    if (this.pending.length < MAX_LISTED_DEVIATIONS) this.pending.push(deviation);
    else this.more++;
    this.timer ??= setTimeout(() => void this.flush(), this.deps.windowMs ?? DEVIATION_WINDOW_MS);
  }

  /** Sends what is held now and resolves once every notice of the session is written. */
  async close(): Promise<void> {
    await this.flush();
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const more = this.more;
    this.pending = [];
    this.more = 0;
    if (batch.length > 0) {
      this.sending = this.sending
        .then(() => this.send(batch, more))
        .catch((error: unknown) => this.deps.logger?.error({ err: error, session: this.session.sessionId }, 'alerting of deviations failed'));
    }
    return this.sending;
  }

  private async send(batch: readonly Deviation[], more: number): Promise<void> {
    const { session } = this;
    const count = batch.length + more;
    const first = batch[0] as Deviation;
    const now = this.deps.clock.now();
    await this.deps.db.transaction().execute(async (trx) => {
      const subscribers = (await this.deps.subscribers?.(trx, session.changeId)) ?? [];
      const recipients = [...new Set([...session.approvers, ...subscribers])].filter((id) => id !== session.userId);
      const lines = batch.map((deviation) => `${recordingTime(deviation.command.offsetSeconds)}  ${describe(deviation)}`);
      if (more > 0) lines.push(`… and ${more} more.`);
      await appendEvent(trx, {
        actor: 'system',
        action: 'session.deviation',
        subject: `session:${session.sessionId}`,
        data: {
          session: session.session,
          change: session.change,
          device: session.device,
          count,
          commands: batch.map((deviation) => ({ kind: deviation.kind, seq: deviation.command.seq, text: deviation.command.text, step: deviation.step })),
          recipients: recipients.length,
        },
        time: now,
      });
      if (recipients.length === 0) return;
      await this.deps.notifier.notify(trx, {
        kind: DEVIATION_NOTICE_KIND,
        recipients,
        title: cut(`${session.change}: ${count === 1 ? 'a command' : `${count} commands`} off the script on ${session.device} (session #${session.session} of ${session.username})`, 200),
        body: lines.join('\n'),
        // The live view at the first deviation of the burst.
        link: `/live-sessions/${session.session}#t=${recordingTime(first.command.offsetSeconds)}`,
        data: {
          session: session.session,
          change: session.change,
          device: session.device,
          user: session.username,
          count,
          deviations: batch.map((deviation) => ({ kind: deviation.kind, seq: deviation.command.seq, text: deviation.command.text, step: deviation.step, offsetSeconds: deviation.command.offsetSeconds })),
        },
      });
    });
  }
}

const describe = (deviation: Deviation) =>
  deviation.kind === 'extra' ? `not in the script: ${deviation.command.text}` : `out of order: ${deviation.command.text} (the step "${deviation.step ?? ''}" ran before its turn)`;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
