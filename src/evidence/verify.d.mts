// Types of verify.mjs, the dependency-free verifier shipped in every evidence bundle (its JSDoc is the reference).

export interface EventEntry {
  seq: number;
  time: string;
  actor: string;
  action: string;
  subject: string;
  data: Record<string, unknown>;
}

export interface CheckResult {
  ok: boolean;
  check: string;
  detail: string;
}

export interface BundleReport {
  checks: CheckResult[];
  ok: boolean;
  /** Whether the key was given (--key) rather than the bundle's own. */
  anchored: boolean;
  key: string | undefined;
  checkpoint: string | undefined;
}

export declare const LOG_BOUND_FILES: string[];
export declare function canonicalJson(value: unknown): string;
export declare function sha256Hex(data: Uint8Array | string): string;
export declare function eventLeafHash(event: EventEntry): Buffer;
export declare function rootFromInclusionProof(index: number, size: number, leaf: Buffer, proof: Buffer[]): Buffer | undefined;
export declare function verifyBundle(files: Map<string, Uint8Array>, options?: { key?: string; checkpoint?: string }): BundleReport;
export declare function readBundleDirectory(dir: string): Map<string, Uint8Array>;
export declare function formatReport(report: BundleReport): string[];
export declare const EXIT_CODES: { ok: 0; failed: 1; unanchored: 3 };
export declare function exitCodeOf(report: BundleReport): number;
