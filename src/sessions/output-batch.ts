/** Which of the device's output streams a chunk came from. */
export type OutputStream = 'stdout' | 'stderr';

/** About one SSH packet (OpenSSH's is 32 KiB): a batch this large goes out at once. */
const DEFAULT_MAX_BYTES = 32 * 1024;

/**
 * Joins the device's output chunks that arrive in one turn of the event loop before they are
 * relayed, recorded and captured. Behind a pty, sshd sends small packets (half a kilobyte is
 * typical), hundreds of them in one turn when output is heavy; relaying each costs a packet and
 * a socket write to the user, a recording event and a capture event. A batch goes out when it
 * reaches `maxBytes`, when the stream changes (stdout and stderr keep their order), when `flush()`
 * is called (before a keystroke, a resize or the end, so that nothing overtakes what came before
 * it), or else right after this turn's I/O (`setImmediate`), so a lone keystroke's echo waits
 * only for the events already due.
 */
export class OutputBatch {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private stream: OutputStream = 'stdout';
  private scheduled = false;

  constructor(
    private readonly deliver: (data: Buffer, stream: OutputStream) => void,
    private readonly maxBytes = DEFAULT_MAX_BYTES,
  ) {}

  add(data: Buffer, stream: OutputStream): void {
    if (this.chunks.length > 0 && stream !== this.stream) this.flush();
    this.stream = stream;
    this.chunks.push(data);
    this.bytes += data.length;
    if (this.bytes >= this.maxBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Delivers what is waiting now. */
  flush(): void {
    if (this.chunks.length === 0) return;
    const data = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.deliver(data, this.stream);
  }
}
