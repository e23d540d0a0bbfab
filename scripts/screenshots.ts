/**
 * `npm run screenshots`: regenerates the README's pictures of the web console's main pages in
 * docs/images/, from a Changegate started here on a throwaway embedded database with a little
 * example data, in Debian's Chromium (`/usr/bin/chromium`, or CHANGEGATE_TEST_CHROMIUM). The
 * audited session is a real one, through the web terminal to an OpenSSH sshd started here
 * (`/usr/sbin/sshd`, on a loopback port).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import ssh2 from 'ssh2';
import type { Changegate } from '../src/changegate.ts';
import { keyPair } from '../test/gateway-kit.ts';
import { startSshd } from '../test/sshd.ts';
import { withThrowawayChangegate } from './throwaway-changegate.ts';

const IMAGES = fileURLToPath(new URL('../docs/images/', import.meta.url));
const PASSWORD = 'a-password-for-the-pictures';

async function main(): Promise<void> {
  // The console as the sources are now.
  execFileSync(process.execPath, [fileURLToPath(new URL('./build-console.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
  const settings = { CHANGEGATE_MASTER_KEY: 'b'.repeat(64), CHANGEGATE_ADMIN_PASSWORD: PASSWORD, CHANGEGATE_COOKIE_SECURE: 'false' };
  await withThrowawayChangegate(settings, (changegate) => photograph(changegate));
}

/** Example data in `changegate`, then the pictures of the pages that show it. */
async function photograph(changegate: Changegate): Promise<void> {
  const browser = await chromium.launch({ executablePath: process.env.CHANGEGATE_TEST_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const baseUrl = await changegate.app.listen({ port: 0, host: '127.0.0.1' });
    const admin = await session(baseUrl, 'admin', PASSWORD);
    await admin('PATCH', '/me', { displayName: 'Ada Admin', timeZone: 'Europe/Paris' });
    for (const [username, displayName] of [
      ['alice', 'Alice Executor'],
      ['carol', 'Carol Approver'],
    ]) {
      await admin('POST', '/users', { username, password: PASSWORD, displayName });
      await admin('POST', '/grants', { username, privilege: 'Change.View', level: 'access' });
    }
    for (const name of ['web01', 'web02', 'db01']) {
      const hostKey = ssh2.utils.generateKeyPairSync('ed25519').public.split(' ').slice(0, 2).join(' ');
      await admin('POST', '/devices', { name, hostname: `${name}.example.com`, port: 22, hostKey });
      for (const account of name.startsWith('web') ? ['root', 'deploy'] : ['postgres']) {
        await admin('POST', '/credentials', { device: name, account, secret: { password: `an example password of ${account}` } });
      }
    }
    await admin('POST', '/access-groups', { name: 'web-team', executors: ['alice'], approvers: ['carol'], requiresJustification: true });
    const hour = 3_600_000;
    const now = Date.now();
    await admin('POST', '/changes', {
      name: 'CHG-2026-042',
      title: 'Rotate the TLS certificates of the web tier',
      description: 'The certificates expire on the 15th.',
      startAt: new Date(now - hour).toISOString(),
      dueAt: new Date(now + 3 * hour).toISOString(),
      accessGroup: 'web-team',
      devices: ['web01', 'web02'],
      script: 'cp /etc/ssl/new/web.pem /etc/ssl/web.pem\n# expect: syntax is ok\nnginx -t\nsystemctl reload nginx\n# optional\ncurl -sI https://localhost/',
    });
    await admin('POST', '/changes', {
      name: 'CHG-2026-043',
      title: 'Upgrade PostgreSQL to 16.4',
      startAt: new Date(now + 24 * hour).toISOString(),
      dueAt: new Date(now + 26 * hour).toISOString(),
      accessGroup: 'web-team',
      devices: ['db01'],
      script: 'systemctl stop postgresql\napt-get install -y postgresql-16\nsystemctl start postgresql',
    });
    const alice = await session(baseUrl, 'alice', PASSWORD);
    await alice('POST', '/requests', { device: 'web01', justification: 'Certificates expire on the 15th' });

    mkdirSync(IMAGES, { recursive: true });
    const page = await (await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 720 }, locale: 'en-GB' })).newPage();
    await page.goto('/changes');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shoot(page, 'sign-in');
    await signIn(page, 'admin');
    await page.getByRole('row', { name: /CHG-2026-042/ }).waitFor();
    await shoot(page, 'changes');
    await page.getByRole('link', { name: 'CHG-2026-042' }).click();
    await page.getByRole('tab', { name: /Script/ }).click();
    await page.getByText(/steps, no errors/).waitFor();
    await shoot(page, 'change-script');

    const approver = await (await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 720 }, locale: 'en-GB' })).newPage();
    await approver.goto('/approvals');
    await signIn(approver, 'carol');
    await approver.getByRole('row', { name: /#1/ }).waitFor();
    await shoot(approver, 'my-approvals');
    await approver.getByRole('link', { name: '#1' }).click();
    await approver.getByLabel('Comment').fill('Go ahead within the window.');
    await shoot(approver, 'request');

    const executor = await (await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 720 }, locale: 'en-GB' })).newPage();
    await executor.goto('/credentials');
    await signIn(executor, 'alice');
    await executor.getByRole('row', { name: /web02.*root.*CHG-2026-042/ }).waitFor();
    await shoot(executor, 'credentials');

    await auditedSession(baseUrl, admin, executor, page);
    await auditing(admin, page);
    process.stdout.write(`Wrote the console's pictures to ${path.relative(process.cwd(), IMAGES)}.\n`);
  } finally {
    await browser.close();
  }
}

/** A real session on a local sshd through alice's web terminal, then its board and video as the admin sees them. */
async function auditedSession(baseUrl: string, admin: Api, executor: Page, auditor: Page): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-screenshots-'));
  const key = keyPair(dir, 'device_root');
  const sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  try {
    await admin('POST', '/devices', { name: 'app01', hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey });
    await admin('POST', '/credentials', { device: 'app01', account: 'root', secret: { privateKey: key.privateKey } });
    await admin('POST', '/access-groups', { name: 'app-team', executors: ['alice'], approvers: ['carol'] });
    const now = Date.now();
    await admin('POST', '/changes', {
      name: 'CHG-2026-044',
      title: 'Clear the application cache',
      startAt: new Date(now - 60_000).toISOString(),
      dueAt: new Date(now + 3_600_000).toISOString(),
      accessGroup: 'app-team',
      devices: ['app01'],
      script: 'df -h /\n# optional\ndu -sh /var/cache\necho cache-cleared\nuptime',
    });
    const asked = (await session(baseUrl, 'alice', PASSWORD).then((alice) => alice('POST', '/requests', { device: 'app01' }))) as { request: { number: number } };
    const carol = await session(baseUrl, 'carol', PASSWORD);
    await carol('POST', `/requests/${asked.request.number}/approve`, { comment: 'go' });

    await executor.goto('/credentials?device=app01');
    await executor.getByRole('row', { name: /app01/ }).getByRole('link', { name: /Start session/ }).click();
    const screen = executor.locator('.xterm-rows');
    const prompted = async () => /[#$]$/.test((await screen.innerText()).trimEnd());
    for (let waited = 0; !(await prompted()); waited += 1) {
      if (waited > 100) throw new Error('the terminal never showed a prompt');
      await executor.waitForTimeout(100);
    }
    for (const command of ['df -h /', 'uptime', 'rm -rf /tmp/app-cache', 'exit']) {
      await executor.keyboard.type(command, { delay: 40 });
      await executor.keyboard.press('Enter');
      await executor.waitForTimeout(700);
    }
    await executor.getByText(/The session ended/).waitFor();

    await auditor.goto('/audited-sessions?change=CHG-2026-044');
    const row = auditor.getByRole('row', { name: /CHG-2026-044/ });
    await row.getByText(/\d+ \/ 100/).waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: /Actions for session/ }).click();
    await auditor.getByRole('menuitem', { name: 'Change Audit' }).click();
    await auditor.getByText('extra', { exact: true }).first().waitFor();
    await shoot(auditor, 'audit-board');
    await auditor.getByRole('tab', { name: 'Video of Session' }).click();
    await auditor.getByText(/^Position \d+:\d+ of/).waitFor();
    await auditor.getByRole('button', { name: /^\d\d:\d\d\s*uptime$/ }).click();
    await auditor.waitForTimeout(1500);
    await shoot(auditor, 'session-video');
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The seed's worked example: a Full Audit rule, a device it audits changed, the trail, a restore; then the event log and the users. */
async function auditing(admin: Api, page: Page): Promise<void> {
  await admin('POST', '/applications', { partition: 'GLOBAL', name: 'Finance' });
  await admin('POST', '/audit/rules', {
    name: 'FinanceQuarterly',
    objectType: 'Device',
    level: 'full_audit',
    namePattern: 'JCprdFin.*',
    nameMatch: 'regex',
    applicationRule: 'exact_application',
    matchApplication: 'GLOBAL.Finance',
  });
  await admin('POST', '/devices', { name: 'JCprdFinQtrRep', hostname: 'qtrrep.example.com', application: 'Finance', description: 'Quarterly report host' });
  await admin('PATCH', '/devices/JCprdFinQtrRep', { port: 2222, tags: ['reporting'] });

  await page.goto('/audit-rules');
  await page.getByRole('heading', { name: 'Audit Rules' }).waitFor();
  await page.getByRole('button', { name: /^Open audit rule .*FinanceQuarterly$/ }).waitFor();
  await shoot(page, 'audit-rules');
  await page.goto('/audit-rules?rule=GLOBAL.FinanceQuarterly');
  await page.getByRole('dialog').getByRole('textbox', { name: 'Name Pattern', exact: true }).waitFor();
  await shoot(page, 'audit-rule-editor');

  await page.goto(`/audit-trail?q=${encodeURIComponent('k:GLOBAL.JCprdFinQtrRep')}`);
  await page.getByRole('table', { name: 'Audit entries' }).waitFor();
  await page.getByRole('button', { name: 'Expand All' }).click();
  await page.getByText('2222').first().waitFor();
  await shoot(page, 'audit-trail');

  await page.goto('/event-log');
  await page.getByRole('heading', { name: 'Event log' }).waitFor();
  await page.getByRole('row').nth(1).waitFor();
  await shoot(page, 'event-log');

  await page.goto('/users');
  await page.getByRole('row', { name: /alice/ }).waitFor();
  await shoot(page, 'users');
}

type Api = Awaited<ReturnType<typeof session>>;

/** Signs in over the API: a function calling it with the session's cookie and CSRF token. */
async function session(baseUrl: string, username: string, password: string) {
  const login = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!login.ok) throw new Error(`signing in as ${username}: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  return async (method: string, url: string, body: unknown) => {
    const answer = await fetch(`${baseUrl}/api/v1${url}`, { method, headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken }, body: JSON.stringify(body) });
    if (!answer.ok) throw new Error(`${method} ${url}: ${answer.status} ${await answer.text()}`);
    return answer.json() as Promise<unknown>;
  };
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(IMAGES, `${name}.png`) });
}

await main();
