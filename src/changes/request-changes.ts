import { ChannelWakes, type DatabaseNotifications } from '../platform/notifications.ts';

/** Where the database announces a request's new status (migration 0018): the payload is its number. */
export const REQUEST_STATUS_CHANNEL = 'changegate_request';

/**
 * Wakes whoever waits for a request's decision as soon as its status changes, whichever instance
 * sharing the database changed it (a decision, a withdrawal, a revoke, an expiry).
 */
export class RequestChanges {
  private readonly wakes: ChannelWakes;

  constructor(notifications: DatabaseNotifications) {
    this.wakes = new ChannelWakes(notifications, REQUEST_STATUS_CHANNEL, (payload) => [payload]);
  }

  start(): Promise<void> {
    return this.wakes.start();
  }

  stop(): Promise<void> {
    return this.wakes.stop();
  }

  /** Resolves when request `number`'s status changes, or after `ms`, whichever comes first. */
  changed(number: number, ms: number): Promise<void> {
    return this.wakes.next(String(number), ms);
  }
}
