import type { SessionKind } from './session.ts';

/**
 * The user's side of a session: an SSH channel at the gateway, or a WebSocket from the web
 * terminal. The runner brokers, connects and records the same way behind either.
 */
export interface ClientSide {
  readonly kind: SessionKind;
  /** A terminal the user types into: questions can be asked, menus offered. */
  readonly interactive: boolean;
  readonly term: string;
  readonly cols: number;
  readonly rows: number;
  /** The command of an exec request (`ssh gateway 'uptime'`). */
  readonly command?: string;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  /** A message to the user before a policy refusal or the session: agent or port forwarding refused. */
  readonly notices: readonly string[];
  write(data: Buffer | string): void;
  writeError(data: Buffer | string): void;
  /**
   * When the user reads slower than the device writes: resolves once what was written has been
   * taken. Undefined while the user keeps up. The device's output is paused meanwhile, so a slow
   * reader cannot make the gateway buffer without bound.
   */
  backlogged(): Promise<void> | undefined;
  /**
   * Reads one line from the user before the device is connected; undefined when they cancel or
   * leave, or when `signal` withdraws the question (what they type next goes on to the device).
   */
  ask(question: string, options: { echo: boolean; anyKey?: boolean; signal?: AbortSignal }): Promise<string | undefined>;
  onInput(listener: (data: Buffer) => void): void;
  /**
   * Stops reading the user's input until `resumeInput`: while the device reads slower than the
   * user sends (a paste into a busy program), so that the gateway does not buffer it without bound.
   */
  pauseInput(): void;
  resumeInput(): void;
  onResize(listener: (cols: number, rows: number) => void): void;
  onSignal(listener: (signal: string) => void): void;
  onEof(listener: () => void): void;
  onClose(listener: () => void): void;
  /** Ends the user's side with the exit status (or signal) of the remote command. */
  exit(status: number | null, signal?: string): void;
  readonly closed: boolean;
}
