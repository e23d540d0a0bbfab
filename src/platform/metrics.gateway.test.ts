import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { parseExposition, valueOf, type Sample } from './metrics.test-kit.ts';

/**
 * `/metrics` scraped on its own port while a real session runs: bash over the test sshd, through
 * the gateway, driven by `ssh -tt`. The live gauge says 1 and the relayed bytes grow while it
 * runs; once the user exits, the gauge says 0 and the end is counted with its reason.
 */

const ACCOUNT = 'changegate-metrics';
const PROMPT = /mx\$ $/;

describe('metrics of a session through the gateway', () => {
  let dir: string;
  let run: GatewayChange;

  const scrape = async (): Promise<Sample[]> => {
    const answer = await fetch(`http://127.0.0.1:${run.started.metricsPort}/metrics`);
    expect(answer.status).toBe(200);
    return parseExposition(await answer.text());
  };
  /** Scrapes until `test` holds, failing with what was awaited. */
  const scrapeUntil = (what: string, test: (samples: Sample[]) => boolean) =>
    waitUntil(async () => {
      const samples = await scrape();
      return test(samples) ? samples : undefined;
    }, what);
  const bytes = (samples: Sample[], direction: 'in' | 'out') => valueOf(samples, 'changegate_session_bytes_total', { direction }) ?? 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-metrics-'));
    const deviceKey = keyPair(dir, 'device');
    ensureDeviceAccount(ACCOUNT, [`PS1='mx\\$ '`], deviceKey.publicKey, 'src/platform/metrics.gateway.test.ts');
    run = await startGatewayChange({
      dir,
      device: 'web01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-METRICS',
      script: 'echo one',
      env: { CHANGEGATE_METRICS_PORT: '0' },
    });
  });

  afterAll(async () => {
    await run?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the live session and its bytes growing, then its end and its reason', { timeout: 60_000 }, async () => {
    const idle = await scrape();
    expect(valueOf(idle, 'changegate_sessions_live')).toBe(0);
    expect(valueOf(idle, 'changegate_sessions_started_total')).toBe(0);
    // Alice's request was approved as the test was set up.
    expect(valueOf(idle, 'changegate_request_approval_seconds_count')).toBe(1);

    const terminal = new Terminal(run.started.sshPort, 'alice@web01', run.aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      const running = await scrapeUntil('the live session', (samples) => valueOf(samples, 'changegate_sessions_live') === 1);
      expect(valueOf(running, 'changegate_sessions_started_total')).toBe(1);
      expect(bytes(running, 'out')).toBeGreaterThan(0);

      const before = terminal.output.length;
      terminal.type('echo metrics-$((6 * 7))\r');
      await waitUntil(async () => (/metrics-42[\s\S]*mx\$ $/.test(terminal.output.slice(before)) ? true : undefined), 'the echo and the prompt after it');
      const busier = await scrapeUntil('more bytes both ways', (samples) => bytes(samples, 'out') > bytes(running, 'out') && bytes(samples, 'in') > bytes(running, 'in'));
      // At least the keys typed went in, and at least their echo and the answer came out.
      expect(bytes(busier, 'in') - bytes(running, 'in')).toBeGreaterThanOrEqual('echo metrics-$((6 * 7))\r'.length);
      expect(bytes(busier, 'out') - bytes(running, 'out')).toBeGreaterThanOrEqual('metrics-42'.length);
      expect(valueOf(busier, 'changegate_sessions_live')).toBe(1);

      terminal.type('exit\r');
      expect(await terminal.exited).toBe(0);
      const ended = await scrapeUntil('the end of the session', (samples) => valueOf(samples, 'changegate_sessions_live') === 0);
      expect(valueOf(ended, 'changegate_sessions_ended_total', { reason: 'client_closed' })).toBe(1);
      expect(valueOf(ended, 'changegate_sessions_started_total')).toBe(1);
      // Its one command was stored: nothing waits to be written.
      expect(valueOf(ended, 'changegate_command_store_backlog')).toBe(0);
      expect(valueOf(ended, 'changegate_capture_backlog_bytes')).toBe(0);
    } finally {
      terminal.close();
    }
  });
});
