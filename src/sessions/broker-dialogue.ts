import type { Kysely } from 'kysely';
import { findRequestByNumber, type RequestChanges, type RequestService, type RequestView } from '../changes/index.ts';
import type { Actor } from '../access/index.ts';
import { findDevice, type Credential, type CredentialService, type Device } from '../inventory/index.ts';
import type { Database } from '../platform/database.ts';
import { isAppError } from '../platform/errors.ts';
import type { ClientSide } from './client-side.ts';

/** Exit status for "your request waits for approval", so scripts can tell it from a refusal (1). */
export const EXIT_PENDING = 2;
const EXIT_REFUSED = 1;

/**
 * Text written into a user's terminal that others wrote (a denial's comment, a change's title, a
 * revoke's reason): every control character, ESC first, becomes a visible replacement character,
 * so it cannot retitle their terminal, move the cursor or redraw what they see.
 */
export const printable = (text: string) => text.replace(/\p{Cc}/gu, '\uFFFD');

/** A message from Changegate to the user, on a line of its own in their terminal. */
export const line = (text: string) => `\r\nChangegate: ${printable(text)}\r\n`;

export interface BrokerDialogueDeps {
  readonly db: Kysely<Database>;
  readonly requests: Pick<RequestService, 'requestAccess' | 'get'>;
  readonly credentials: Pick<CredentialService, 'ofDevice'>;
  /** How often a waiting user's request is checked for a decision, besides each announced change of its status. */
  readonly decisionPollMs?: number;
  /** Announces a request's new status as it changes on any instance: a waiting user connects at once. */
  readonly requestChanges?: Pick<RequestChanges, 'changed'>;
  /**
   * Whether the user may still act: not disabled, and their sign-in not revoked since. Asked
   * again just before connecting, since a user may wait a long time for an approval.
   */
  readonly signIns?: { stillSignedIn(actor: Actor): Promise<boolean> };
}

/**
 * What the gateway says to the user before a device is connected: it asks the broker for access,
 * helps through a justification, a choice of change or of device account, waits for an approval
 * if they want to, and refuses with a message that says what to do when it cannot go on.
 */
export class BrokerDialogue {
  constructor(private readonly deps: BrokerDialogueDeps) {}

  /** Why a request admitted earlier no longer lets the user in, or undefined while it still does. */
  async stillAdmitted(actor: Actor, number: number, device: Device): Promise<string | undefined> {
    if (this.deps.signIns && !(await this.deps.signIns.stillSignedIn(actor))) {
      return 'your account was disabled, or its sign-in revoked, while you waited: nothing was opened.';
    }
    const row = await findRequestByNumber(this.deps.db, number);
    if (row?.status !== 'approved') {
      return `request #${number} is ${row?.status ?? 'gone'}${row?.closeReason ? ` (${row.closeReason})` : ''}: nothing was opened.`;
    }
    const now = await findDevice(this.deps.db, device.id);
    if (!now || now.hostname !== device.hostname || now.port !== device.port || now.hostKeyFingerprint !== device.hostKeyFingerprint) {
      return `device ${device.name} changed while you waited: connect again.`;
    }
    return undefined;
  }

  /**
   * Asks the broker until the user holds an approved request, helping them on the way: a
   * justification, a choice between changes, asking again after a denial, waiting for approvers.
   * Returns undefined when the session cannot go on (the user has been told why).
   */
  async admit(client: ClientSide, actor: Actor, device: string, change: string | undefined): Promise<RequestView | undefined> {
    const query: { change?: string; justification?: string; again?: boolean } = { ...(change && { change }) };
    for (;;) {
      let outcome;
      try {
        outcome = await this.deps.requests.requestAccess(actor, device, query);
      } catch (error) {
        if (!isAppError(error)) throw error;
        if (isAppError(error, 'justification_required') && client.interactive && !query.justification) {
          const answer = await client.ask(`${printable(error.message)}\r\nJustification: `, { echo: true });
          if (!answer?.trim()) return this.refuse(client, 'a justification is required; nothing was requested.');
          query.justification = answer.trim();
          continue;
        }
        if (isAppError(error, 'change_ambiguous') && client.interactive) {
          const choices = ((error.details as { choices?: Array<{ change: string; title: string }> } | undefined)?.choices ?? []);
          const menu = choices.map((choice, index) => `  ${index + 1}) ${choice.change}  ${printable(choice.title)}`).join('\r\n');
          const answer = await client.ask(`Several open changes include ${device}:\r\n${menu}\r\nWhich one [1-${choices.length}]? `, { echo: true });
          const picked = choices[Number(answer) - 1];
          if (!picked) return this.refuse(client, 'no change chosen.');
          query.change = picked.change;
          continue;
        }
        return this.refuse(client, isAppError(error, 'change_ambiguous') ? `${error.message} Connect as <you>@${device}+<change>.` : error.message);
      }
      const request = outcome.request;
      const approvers = `${request.approvers.join(', ')} (${request.approvalsRequired} approval${request.approvalsRequired > 1 ? 's' : ''} needed)`;
      switch (request.status) {
        case 'approved':
          return request;
        case 'pending': {
          const said = outcome.created
            ? `request #${request.number} to run ${request.change} on ${request.device} is created; it needs approval by ${approvers}.`
            : `request #${request.number} to run ${request.change} on ${request.device} waits for approval by ${approvers}.`;
          if (!client.interactive) {
            this.refuse(client, `${said} Connect again once it is approved.`, EXIT_PENDING);
            return undefined;
          }
          client.writeError(line(said));
          const wait = await client.ask('Wait here for the decision? [y/N] ', { echo: true });
          if (!/^y(es)?$/i.test(wait?.trim() ?? '')) {
            this.refuse(client, 'you will be notified of the decision; connect again then.', EXIT_PENDING);
            return undefined;
          }
          const decided = await this.waitForDecision(client, actor, request.number);
          if (!decided) return undefined;
          continue;
        }
        case 'denied':
        case 'cancelled': {
          const last = request.decisions.find((decision) => decision.decision === 'deny');
          const why = request.status === 'denied' ? `was denied${last ? ` by ${last.approver}${last.comment ? `: ${last.comment}` : ''}` : ''}` : 'was cancelled';
          if (!client.interactive) return this.refuse(client, `request #${request.number} ${why}. Ask again with the API or \`changegate request create ${device} --again\`.`);
          const again = await client.ask(`${line(`request #${request.number} ${why}.`)}Ask again? [y/N] `, { echo: true });
          if (!/^y(es)?$/i.test(again?.trim() ?? '')) return this.refuse(client, 'nothing was requested.');
          query.again = true;
          continue;
        }
        default:
          return this.refuse(client, `request #${request.number} is ${request.status}: connect again.`);
      }
    }
  }

  /** Keeps the user connected until their request is decided; any key leaves. Returns false when they left or it was refused. */
  private async waitForDecision(client: ClientSide, actor: Actor, number: number): Promise<boolean> {
    client.writeError('Waiting for the decision (press any key to leave)…\r\n');
    let left = false;
    // Withdrawn once decided: the "any key" must not swallow the first keystrokes meant for the device.
    const decided = new AbortController();
    const leave = client.ask('', { echo: false, anyKey: true, signal: decided.signal }).then(() => {
      left = !decided.signal.aborted;
    });
    const poll = this.deps.decisionPollMs ?? 2000;
    try {
      while (!left && !client.closed) {
        const request = await this.deps.requests.get(actor, number);
        if (request.status === 'approved') {
          client.writeError(line(`request #${number} is approved: connecting.`));
          return true;
        }
        if (request.status !== 'pending') {
          // Back to the broker, which says why and offers to ask again.
          return true;
        }
        const changed = this.deps.requestChanges?.changed(number, poll) ?? new Promise((resolve) => setTimeout(resolve, poll));
        await Promise.race([leave, changed]);
      }
    } finally {
      decided.abort();
    }
    if (!client.closed) this.refuse(client, 'you left before the decision; you will be notified of it.', EXIT_PENDING);
    return false;
  }

  /** The device account: the one named, the only one, or one the user picks from a menu. */
  async pickCredential(client: ClientSide, deviceId: string, deviceName: string, account: string | undefined): Promise<Credential | undefined> {
    const credentials = await this.deps.credentials.ofDevice(this.deps.db, deviceId);
    const accounts = credentials.map((credential) => credential.account).join(', ');
    if (credentials.length === 0) return this.refuse(client, `device ${deviceName} has no account in the vault: an administrator must add a credential.`);
    if (account) {
      const named = credentials.find((credential) => credential.account === account);
      return named ?? this.refuse(client, `device ${deviceName} has no account "${account}" in the vault; it has ${accounts}.`);
    }
    if (credentials.length === 1) return credentials[0];
    if (!client.interactive) return this.refuse(client, `device ${deviceName} has several accounts (${accounts}): connect as <you>@${deviceName}:<account>.`);
    const menu = credentials.map((credential, index) => `  ${index + 1}) ${credential.account}`).join('\r\n');
    const answer = await client.ask(`Device ${deviceName} has several accounts:\r\n${menu}\r\nWhich one [1-${credentials.length}]? `, { echo: true });
    return credentials[Number(answer) - 1] ?? this.refuse(client, 'no account chosen.');
  }

  refuse(client: ClientSide, message: string, status = EXIT_REFUSED): undefined {
    if (!client.closed) {
      client.writeError(line(message));
      client.exit(status);
    }
    return undefined;
  }
}
