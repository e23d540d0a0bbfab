import { EXIT } from './command-error.ts';

export interface StopSignals {
  /** Settles on the first SIGINT or SIGTERM. */
  readonly requested: Promise<NodeJS.Signals>;
  /** Removes the handlers, giving the signals their default meaning back. */
  dispose(): void;
}

/**
 * Turns the first SIGINT or SIGTERM into a request to stop gracefully (after `onFirst`, which says
 * so); a second one, from someone who will not wait, ends the process at once with code 130.
 */
export function listenForStop(onFirst: (signal: NodeJS.Signals) => void): StopSignals {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  let received = 0;
  let resolveRequested: (signal: NodeJS.Signals) => void = () => {};
  const requested = new Promise<NodeJS.Signals>((resolve) => {
    resolveRequested = resolve;
  });
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received > 1) process.exit(EXIT.interrupted);
    onFirst(signal);
    resolveRequested(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return {
    requested,
    dispose: () => {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}
