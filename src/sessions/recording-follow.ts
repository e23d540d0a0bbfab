import type { ChannelWakes } from '../platform/notifications.ts';
import type { CastEvent } from './recorder.ts';
import type { RecordingStore } from './recording-store.ts';

/**
 * Splits a recording's bytes into its lines as they arrive: a line cut between two reads waits for
 * the rest. `offset` is where the next read starts, after the last whole line.
 */
export class CastLines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  offset: number;

  constructor(offset = 0) {
    this.offset = offset;
  }

  /** The whole lines completed by `bytes`, without their line breaks. */
  push(bytes: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end >= 0; end = bytes.indexOf(0x0a, start)) {
      const line = Buffer.concat([...this.pending, bytes.subarray(start, end)]);
      this.offset += this.pendingBytes + (end - start) + 1;
      this.pending = [];
      this.pendingBytes = 0;
      lines.push(line.toString('utf8'));
      start = end + 1;
    }
    if (start < bytes.length) {
      this.pending.push(bytes.subarray(start));
      this.pendingBytes += bytes.length - start;
    }
    return lines;
  }

  /** Bytes of a line not finished yet. */
  get partialBytes(): number {
    return this.pendingBytes;
  }
}

/** An event line of a recording, or undefined for a line that is not one (the header, a torn write). */
export function castEvent(line: string): CastEvent | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return Array.isArray(value) ? (value as CastEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** A watcher's link to a session another instance runs: its recording in the shared store, read as it grows. */
export interface ElsewhereFollow {
  readonly store: Pick<RecordingStore, 'read'>;
  readonly location: string;
  readonly sessionId: string;
  /** Where the replay stopped: the byte after its last whole line. */
  readonly offset: number;
  /** Announces that a session's recording grew (`RECORDING_CHANNEL`). */
  readonly grown: Pick<ChannelWakes, 'next'>;
  /** Whether the session has ended, as its record says. */
  ended(): Promise<boolean>;
  /** Sends an event; returns false when the watcher must stop (closed, dropped, fell behind). */
  send(event: CastEvent): boolean;
  stopped(): boolean;
}

/** How long a follower waits for an announcement before it reads the store anyway. */
export const FOLLOW_POLL_MS = 1_000;

/**
 * Follows a live session's recording from another instance: each time the store announces that it
 * grew (or every `FOLLOW_POLL_MS` at the latest), reads what was appended since and sends its
 * events, in the recording's order. Once the session's record says it ended, reads the rest and
 * resolves true; resolves false when the watcher stopped first.
 */
export async function followElsewhere(follow: ElsewhereFollow, pollMs = FOLLOW_POLL_MS): Promise<boolean> {
  const lines = new CastLines(follow.offset);
  const readNew = async (): Promise<boolean> => {
    // What a read returns is whole chunks: a line it cut is kept and read again from its start.
    const from = lines.offset + lines.partialBytes;
    for await (const bytes of follow.store.read(follow.location, from)) {
      for (const line of lines.push(bytes)) {
        const event = castEvent(line);
        if (event && !follow.send(event)) return false;
      }
      if (follow.stopped()) return false;
    }
    return true;
  };
  for (;;) {
    if (follow.stopped()) return false;
    // Read the end before the last bytes: a session's recording is complete before its end is stored.
    const ended = await follow.ended();
    if (!(await readNew())) return false;
    if (ended) return true;
    await follow.grown.next(follow.sessionId, pollMs);
  }
}
