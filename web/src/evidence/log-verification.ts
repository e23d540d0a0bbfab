/**
 * Verifying the event log from the console, with progress the user can trust: the chain is
 * verified range by range (POST /events/verify, each range continuing from the head the last one
 * verified, which checks exactly what one walk checks), so the share shown is entries actually
 * rehashed. Then the log is verified against a signed checkpoint (POST /log/verify), which catches
 * what the chain alone cannot: entries deleted at the end, a history rewritten with every hash.
 */
import { useRef, useState } from 'react';
import { ApiError } from '../api/client.ts';
import { fetchLatestCheckpoint, fetchLogSize, verifyAgainstCheckpoint, verifyChainRange, type ChainReport, type CheckpointReport } from './event-log.queries.ts';

export type Verification =
  | { readonly step: 'idle' }
  | { readonly step: 'chain'; readonly verified: number; readonly total: number }
  | { readonly step: 'checkpoint'; readonly verified: number; readonly size: number | undefined }
  | { readonly step: 'done'; readonly chain: ChainResult; readonly checkpoint: CheckpointResult }
  | { readonly step: 'stopped'; readonly verified: number }
  | { readonly step: 'error'; readonly message: string };

/** The chain walked over the whole log: how many entries verified, and the first that does not match. */
export interface ChainResult {
  readonly ok: boolean;
  readonly verified: number;
  readonly headSeq: number;
  readonly headChainHash: string;
  readonly failure: ChainReport['failure'];
}

/** The check against a checkpoint: its report, or why there was none. */
export type CheckpointResult = { readonly report: CheckpointReport; readonly given: boolean } | { readonly skipped: string };

/** What the user may give: a checkpoint kept elsewhere and the key they obtained independently. */
export interface VerificationInput {
  readonly checkpoint: string;
  readonly verifierKey: string;
}

/** Ranges of about a twentieth of the log: a step of progress each, and few requests on a long log. */
export function rangeSize(total: number): number {
  return Math.min(100_000, Math.max(50, Math.ceil(total / 20)));
}

/** A note as pasted may have lost the newline it ends with; the signature covers it. */
function asNote(text: string): string {
  const trimmed = text.replace(/^\s+/, '').replace(/\s+$/, '');
  return `${trimmed}\n`;
}

export function useLogVerification() {
  const [state, setState] = useState<Verification>({ step: 'idle' });
  const running = useRef<AbortController | undefined>(undefined);

  const start = async (input: VerificationInput) => {
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    const { signal } = controller;
    try {
      const total = await fetchLogSize();
      setState({ step: 'chain', verified: 0, total });
      const limit = rangeSize(total);
      let report = await verifyChainRange(limit, undefined, signal);
      while (report.ok && !report.complete) {
        setState({ step: 'chain', verified: report.headSeq, total: Math.max(total, report.headSeq) });
        report = await verifyChainRange(limit, { seq: report.headSeq, chainHash: report.headChainHash }, signal);
      }
      const chain: ChainResult = { ok: report.ok, verified: report.headSeq, headSeq: report.headSeq, headChainHash: report.headChainHash, failure: report.failure };
      if (!chain.ok) {
        setState({ step: 'done', chain, checkpoint: { skipped: 'The chain is broken: nothing after the first entry that does not match is trusted, so the log was not checked against a checkpoint.' } });
        return;
      }
      const given = input.checkpoint.trim() !== '';
      setState({ step: 'checkpoint', verified: chain.verified, size: undefined });
      let note: string;
      if (given) note = asNote(input.checkpoint);
      else {
        const latest = await fetchLatestCheckpoint(signal);
        if (!latest) {
          setState({ step: 'done', chain, checkpoint: { skipped: 'No checkpoint is signed yet, so the log was checked against none: a serving instance signs one within seconds as the log grows.' } });
          return;
        }
        note = latest.note;
      }
      const size = Number(note.split('\n')[1]);
      setState({ step: 'checkpoint', verified: chain.verified, size: Number.isSafeInteger(size) ? size : undefined });
      const checked = await verifyAgainstCheckpoint(note, input.verifierKey.trim() || undefined, signal);
      setState({ step: 'done', chain, checkpoint: { report: checked, given } });
    } catch (error) {
      if (signal.aborted) return;
      setState({ step: 'error', message: error instanceof ApiError ? error.message : String(error) });
    } finally {
      if (running.current === controller) running.current = undefined;
    }
  };

  const stop = () => {
    running.current?.abort();
    running.current = undefined;
    setState((current) => ({ step: 'stopped', verified: current.step === 'chain' || current.step === 'checkpoint' ? current.verified : 0 }));
  };

  return { state, start: (input: VerificationInput) => void start(input), stop };
}
