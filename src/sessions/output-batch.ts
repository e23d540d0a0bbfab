/** Which of the device's output streams a chunk came from. */
export type OutputStream = 'stdout' | 'stderr';

export interface OutputBatchOptions {
  /** A batch this large goes out at once; about one SSH packet (OpenSSH's is 32 KiB) unless set. */
  readonly maxBytes?: number;
  /** While output streams, how long a batch may wait to fill; 3 ms unless set. */
  readonly holdMs?: number;
}

const DEFAULT_MAX_BYTES = 32 * 1024;
const DEFAULT_HOLD_MS = 3;
/** Output is streaming when a batch at least this large was delivered less than `STREAM_GAP_MS` ago. */
const STREAMING_BYTES = 2 * 1024;
const STREAM_GAP_MS = 5;

/**
 * Joins the device's output chunks before they are relayed, recorded and captured. Behind a pty,
 * sshd sends small packets (a kilobyte or so), hundreds of them a second when output is heavy;
 * relaying each costs an encrypted packet and a socket write to the user, a recording event and
 * a capture event, which under bulk output cost more than the relaying itself.
 *
 * A batch goes out when it reaches `maxBytes`, when the stream changes (stdout and stderr keep
 * their order), when `flush()` is called (before a keystroke, a resize or the end, so that
 * nothing overtakes what came before it), or else after this turn's I/O (`setImmediate`), so a
 * lone keystroke's echo waits only for the events already due. While output streams (the last
 * batch was large and recent) a batch instead waits up to `holdMs` to fill: a screenful drawn a
 * few milliseconds later is not seen, and bulk output goes in full packets.
 */
export class OutputBatch {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private stream: OutputStream = 'stdout';
  private scheduled: { readonly kind: 'immediate'; readonly handle: NodeJS.Immediate } | { readonly kind: 'timeout'; readonly handle: NodeJS.Timeout } | undefined;
  private lastBytes = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private readonly maxBytes: number;
  private readonly holdMs: number;
  private readonly onTime = () => {
    this.scheduled = undefined;
    this.flush();
  };

  constructor(
    private readonly deliver: (data: Buffer, stream: OutputStream) => void,
    options: OutputBatchOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
  }

  add(data: Buffer, stream: OutputStream): void {
    if (this.chunks.length > 0 && stream !== this.stream) this.flush();
    this.stream = stream;
    this.chunks.push(data);
    this.bytes += data.length;
    if (this.bytes >= this.maxBytes) {
      this.flush();
    } else if (this.scheduled === undefined) {
      const streaming = this.lastBytes >= STREAMING_BYTES && performance.now() - this.lastAt < STREAM_GAP_MS;
      this.scheduled = streaming ? { kind: 'timeout', handle: setTimeout(this.onTime, this.holdMs) } : { kind: 'immediate', handle: setImmediate(this.onTime) };
    }
  }

  /** Bytes waiting for delivery: under `maxBytes` between calls (a batch that reaches it goes at once). */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Delivers what is waiting now. */
  flush(): void {
    if (this.scheduled?.kind === 'timeout') clearTimeout(this.scheduled.handle);
    else if (this.scheduled?.kind === 'immediate') clearImmediate(this.scheduled.handle);
    this.scheduled = undefined;
    if (this.chunks.length === 0) return;
    const data = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.lastBytes = data.length;
    this.lastAt = performance.now();
    this.deliver(data, this.stream);
  }
}
