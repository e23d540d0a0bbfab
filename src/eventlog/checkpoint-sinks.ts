import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WitnessSetting } from '../platform/config.ts';
import { OutboundFailure, postOutbound } from '../platform/outbound-request.ts';
import type { StoredCheckpoint } from './checkpoint.store.ts';
import { cosignatureProblem, parseWitnessKey, type WitnessKey } from './cosignature.ts';
import { formatKeyId, NoteError, parseNote, parseSignatureLines, type NoteSignature } from './signed-note.ts';

/** A witness's signature line over a checkpoint, as it answered it, verified with the witness's key. */
export interface Cosignature {
  readonly keyName: string;
  readonly keyId: string;
  readonly line: string;
}

/** What publishing a checkpoint to a sink gave back. */
export interface SinkOutcome {
  /** Signature lines that verify with the key configured for the sink's witness; nothing else. */
  readonly cosignatures: readonly Cosignature[];
  /** The sink took the checkpoint but its answer was unusable: said once, not retried. */
  readonly warning?: string;
}

/**
 * A place each new checkpoint is copied to, out of reach of whoever can rewrite the database.
 * `publish` throws (an Error whose message may be logged) when it should be tried again later.
 */
export interface CheckpointSink {
  /** For log lines: `directory /mnt/worm/changegate`, `witness w1`. */
  readonly name: string;
  /** Set for a witness: its name in CHANGEGATE_WITNESSES, under which its cosignatures are kept. */
  readonly witness?: string;
  publish(checkpoint: StoredCheckpoint): Promise<SinkOutcome>;
}

/**
 * Writes each checkpoint to `checkpoint-<size>.txt` in a directory, created and never overwritten,
 * and points `latest` at the newest (written aside, then renamed, so a reader never sees half a
 * file). Meant for another disk or a write-once mount; where `latest` cannot be replaced, it is
 * skipped (said once) and the checkpoint files alone are kept.
 */
export class DirectorySink implements CheckpointSink {
  readonly name: string;
  /** Set once replacing `latest` failed: it is skipped from then on. */
  private latestRefused = false;

  constructor(private readonly dir: string) {
    this.name = `directory ${dir}`;
  }

  async publish(checkpoint: StoredCheckpoint): Promise<SinkOutcome> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `checkpoint-${checkpoint.size}.txt`);
    try {
      await writeFile(file, checkpoint.note, { flag: 'wx', mode: 0o644 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Written before (a retry, a restart, another instance): fine if it is the same checkpoint.
      if ((await readFile(file, 'utf8')) !== checkpoint.note) {
        throw new Error(`${file} already holds a different checkpoint of size ${checkpoint.size}; it is kept as it is: compare the two (another signing key, or a rewritten log)`);
      }
    }
    if (this.latestRefused) return { cosignatures: [] };
    try {
      await this.pointLatestAt(checkpoint);
    } catch (error) {
      // A write-once mount takes new files but refuses to replace one: the checkpoint file is what
      // counts, and it is written. `latest` is not tried again (each try could leave a file behind).
      this.latestRefused = true;
      return { cosignatures: [], warning: `${this.name} refused to replace latest (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): checkpoint-${checkpoint.size}.txt and the next ones are written, latest is no longer updated` };
    }
    return { cosignatures: [] };
  }

  private async pointLatestAt(checkpoint: StoredCheckpoint): Promise<void> {
    const latest = path.join(this.dir, 'latest');
    const current = await readFile(latest, 'utf8').catch(() => '');
    // Another instance may have written a newer one meanwhile.
    const currentSize = Number(/^[^\n]*\n(\d+)\n/.exec(current)?.[1] ?? -1);
    if (currentSize >= checkpoint.size) return;
    const aside = path.join(this.dir, `.latest.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(aside, checkpoint.note, { flag: 'wx', mode: 0o644 });
      await rename(aside, latest);
    } catch (error) {
      await rm(aside, { force: true }).catch(() => undefined);
      throw error;
    }
  }
}

/** How long a witness has to answer, and the most of its answer read. */
const WITNESS_TIMEOUT_MS = 10_000;
const WITNESS_MAX_ANSWER_BYTES = 64 * 1024;
/** Signature lines of an answer read at most, what a signed-note verifier reads. */
const MAX_ANSWER_LINES = 100;

/** A witness as configured: where checkpoints are POSTed, and the key its cosignatures must verify with. */
export interface Witness {
  /** Its name in CHANGEGATE_WITNESSES, under which its cosignatures are kept. */
  readonly name: string;
  readonly url: string;
  /** Without a key the witness is only published to: nothing it answers is kept. */
  readonly key?: WitnessKey;
}

/**
 * The witnesses of CHANGEGATE_WITNESSES with their keys read. A key that does not read stops the
 * start, naming the witness; so do two witnesses with keys of the same name, since a key name is
 * what tells a verifier whose line it reads.
 */
export function witnessesOf(settings: readonly WitnessSetting[]): Witness[] {
  const byKeyName = new Map<string, string>();
  return settings.map((setting) => {
    if (setting.verifierKey === undefined) return { name: setting.name, url: setting.url };
    let key: WitnessKey;
    try {
      key = parseWitnessKey(setting.verifierKey);
    } catch (error) {
      if (error instanceof NoteError) throw new Error(`CHANGEGATE_WITNESSES: the key of witness "${setting.name}" is not valid: ${error.message}. Give the witness's verifier key as it publishes it.`);
      throw error;
    }
    const other = byKeyName.get(key.name);
    if (other !== undefined) throw new Error(`CHANGEGATE_WITNESSES: witnesses "${other}" and "${setting.name}" have keys of the same name, ${key.name}: a key name is one witness's. Check which of them holds that key.`);
    byKeyName.set(key.name, setting.name);
    return { name: setting.name, url: setting.url, key };
  });
}

/**
 * POSTs each checkpoint (the signed note, text/plain) to a witness, webhook-style. A witness with a
 * key configured may answer 200 with its signature over the same checkpoint text (its line alone,
 * as c2sp.org/tlog-witness answers, or the whole note with it): the first line under the witness's
 * key name and key ID that verifies with that key is kept (a C2SP cosignature/v1, or a plain note
 * signature, as the key's type says). A line that does not verify, or an answer with none under
 * the key, is said and not kept. A witness without a key is only published to: its answer is not
 * read. Errors name the status or the kind of network failure, never what the witness answered.
 */
export class WitnessSink implements CheckpointSink {
  readonly name: string;
  readonly witness: string;

  constructor(
    private readonly target: Witness,
    private readonly limits: { readonly timeoutMs: number; readonly maxAnswerBytes: number } = { timeoutMs: WITNESS_TIMEOUT_MS, maxAnswerBytes: WITNESS_MAX_ANSWER_BYTES },
  ) {
    this.name = `witness ${target.name}`;
    this.witness = target.name;
  }

  async publish(checkpoint: StoredCheckpoint): Promise<SinkOutcome> {
    let answer;
    try {
      answer = await postOutbound({
        url: new URL(this.target.url),
        headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'Changegate checkpoint publisher' },
        body: Buffer.from(checkpoint.note, 'utf8'),
        timeoutMs: this.limits.timeoutMs,
        maxAnswerBytes: this.limits.maxAnswerBytes,
      });
    } catch (error) {
      if (error instanceof OutboundFailure) throw new Error(`${this.name} did not answer: ${error.message}`);
      throw error;
    }
    if (answer.status < 200 || answer.status > 299) throw new Error(`${this.name} answered HTTP ${answer.status}`);
    const key = this.target.key;
    if (key === undefined || answer.body.length === 0) return { cosignatures: [] };
    try {
      return this.cosignatureIn(answer.body.toString('utf8'), checkpoint, key);
    } catch (error) {
      if (!(error instanceof NoteError)) throw error;
      return { cosignatures: [], warning: `${this.name} answered ${answer.status} with no usable signature lines (${error.message})` };
    }
  }

  private cosignatureIn(answer: string, checkpoint: StoredCheckpoint, key: WitnessKey): SinkOutcome {
    const text = parseNote(checkpoint.note).text;
    let block = answer;
    const split = answer.lastIndexOf('\n\n');
    if (split >= 0) {
      if (answer.slice(0, split + 1) !== text) throw new NoteError('malformed', 'it signed another text than the checkpoint');
      block = answer.slice(split + 2);
    }
    if (block === '' || !block.endsWith('\n')) throw new NoteError('malformed', 'signature lines each end with a newline');
    const named = `${key.name}+${formatKeyId(key.keyId)}`;
    // Read a line at a time up to the first under the witness's key that verifies: lines after it
    // are not even parsed, so no answer can add lines under other names, nor crowd the served note.
    const raws = block.slice(0, -1).split('\n').slice(0, MAX_ANSWER_LINES);
    let problem: string | undefined;
    for (const raw of raws) {
      const [line] = parseSignatureLines(`${raw}\n`) as [NoteSignature];
      if (line.name !== key.name || line.keyId !== key.keyId) continue;
      problem = cosignatureProblem(text, line, key);
      if (problem === undefined) return { cosignatures: [{ keyName: line.name, keyId: formatKeyId(line.keyId), line: line.line }] };
    }
    if (problem !== undefined) return { cosignatures: [], warning: `${this.name} answered a signature under its key ${named} that does not verify over checkpoint ${checkpoint.size}: it is not kept (${problem})` };
    return { cosignatures: [], warning: `${this.name} answered ${raws.length} signature line(s), none under its key ${named}: nothing is kept; check the key configured for it in CHANGEGATE_WITNESSES` };
  }
}
