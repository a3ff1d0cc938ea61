import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ApprovalBinding } from '../../src/approvals/approval-service';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import { startConsole, type RunningConsole } from '../../src/console/console-server';
import type { Approval__Output } from '../../src/gen/secretbroker/v1/Approval';
import { jsonToStruct } from '../../src/broker/struct';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { ListDecisionsResponse__Output } from '../../src/gen/secretbroker/v1/ListDecisionsResponse';
import type { WhoAmIResponse__Output } from '../../src/gen/secretbroker/v1/WhoAmIResponse';
import { ManualClock } from '../../src/lib/clock';
import { assertCliRefusal, expectDenialEntry, expectDenied, type AnyExplanation } from '../helpers/expect-denial';
import { expectCode } from '../helpers/grpc-expect';
import { runCapture } from '../helpers/run-cli';
import { baseRawConfig, makeTestPki, REPO, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
/** The README names this folder: screenshots of each console page, written by every run. */
const SHOTS = path.join(REPO, 'test-output', 'console');
const HOSTILE = 'refund <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> order A-1';

/** A raw HTTP request (node's fetch would not let a test forge Origin as freely). */
function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The one-time login token in a console's printed URL. */
const loginToken = (c: RunningConsole | string): string => new URL(typeof c === 'string' ? c : c.loginUrl).searchParams.get('token')!;

/** The POST the login page's button sends (from the console's own Origin unless `headers` say otherwise): it uses the URL up. */
function postLogin(url: string, headers: Record<string, string> = {}): ReturnType<typeof request> {
  const { origin } = new URL(url);
  return request(`${origin}/login`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: `token=${loginToken(url)}` });
}

/** Reads a WatchApproval stream until the approval leaves PENDING. */
function watchUntilDecided(c: BrokerClients, approvalId: string): Promise<Approval__Output> {
  return new Promise((resolve, reject) => {
    const stream = c.agent.WatchApproval({ approvalId }, { deadline: Date.now() + 60_000 });
    stream.on('data', (a: Approval__Output) => {
      if (a.state !== 'PENDING') {
        resolve(a);
        stream.cancel();
      }
    });
    stream.on('error', (e: grpc.ServiceError) => e.code !== grpc.status.CANCELLED && reject(e));
  });
}

/**
 * `secret-broker console` against the real daemon over real mTLS, driven by
 * headless Chromium: the session token, the Origin check, the CSP, escaping,
 * four eyes through the page, and the in-browser inclusion proof check.
 */
describe('console: a local web console as an operator client (headless Chromium, real daemon)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let bobConsole: RunningConsole;
  let aliceConsole: RunningConsole;
  /** The session cookies (name=value) the browser got from each console's one login, for raw requests. */
  let bobCookie: string;
  let aliceCookie: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- puppeteer-core's types are ESM-only; loaded dynamically
  let browser: any;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));

  const binding = (over: Partial<ApprovalBinding> = {}): ApprovalBinding => ({
    agent: 'support-bot',
    action: 'billing.refund',
    resource: 'stripe',
    params: { amount: 50000, note: '<b>bold</b>' },
    purpose: HOSTILE,
    ttl_seconds: 0,
    max_uses: 0,
    rule: 'billing-refund-approved',
    policy_version: broker.app.policy.version,
    ...over,
  });
  /**
   * Logs the shared browser in through the console's printed URL (it works
   * once, so once per console) and returns the session cookie it set.
   */
  const browserLogin = async (c: RunningConsole): Promise<string> => {
    const page = await browser.newPage();
    await page.goto(c.loginUrl, { waitUntil: 'load' });
    assert.equal(new URL(page.url()).pathname, '/login', 'the URL alone logs nothing in');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
    assert.equal(new URL(page.url()).pathname, '/approvals');
    assert.doesNotMatch(page.url(), /token/);
    const cookie = ((await page.cookies()) as Array<{ name: string; value: string }>).find((k) => k.name === c.cookieName);
    await page.close();
    assert.ok(cookie, `no ${c.cookieName} cookie after login`);
    return `${cookie.name}=${cookie.value}`;
  };
  const open = (over: Partial<ApprovalBinding> = {}) =>
    broker.app.approvals.open({ agent: broker.config.agents['support-bot']!, groups: ['finance'], binding: binding(over), trust: { score: 600, tier: 'standard', fresh: false } }, broker.app.log);

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice', 'bob', 'carol']);
    const base = baseRawConfig(pki, tmp.dir);
    const raw = baseRawConfig(pki, tmp.dir, {
      // Above the page's 100 rows: the leases test holds 101 active leases of one agent.
      limits: { ...(base['limits'] as Record<string, unknown>), active_leases: 200 },
      secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' }, 'stripe-key': { backend: 'local', name: 'stripe-key' } },
      actions: {
        ...(base['actions'] as Record<string, unknown>),
        'billing.refund': {
          http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'stripe-key' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
          resource: 'stripe',
          max_uses: 1,
        },
      },
      agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' } },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver', 'admin', 'auditor'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] },
      },
      approvals: { finance: { approvers: ['alice', 'bob'], required: 1, expires: '15m' } },
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, reaperIntervalMs: 50 });
    bobConsole = await startConsole({ clients: broker.clientFor('operators', 'bob') });
    aliceConsole = await startConsole({ clients: broker.clientFor('operators', 'alice') });
    mkdirSync(SHOTS, { recursive: true });
    const { default: puppeteer } = await import('puppeteer-core');
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    bobCookie = await browserLogin(bobConsole);
    aliceCookie = await browserLogin(aliceConsole);
  });
  after(async () => {
    await browser?.close();
    await bobConsole?.close();
    await aliceConsole?.close();
    await broker?.close();
    tmp?.cleanup();
  });

  it('listens on 127.0.0.1 only; without the session cookie every page is 401; a wrong login token sets nothing; the session cookie opens the pages on the console\'s own Host only', async () => {
    assert.match(bobConsole.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(loginToken(bobConsole), /^[A-Za-z0-9_-]{43}$/);
    for (const p of ['/approvals', '/evidence', '/leases', '/verify.js', '/']) {
      const r = await request(bobConsole.origin + p);
      assert.equal(r.status, 401, p);
      assert.doesNotMatch(r.body, /<table/);
    }
    // Another console's token, a near miss, none at all.
    const bobToken = loginToken(bobConsole);
    for (const t of [loginToken(aliceConsole), bobToken.slice(0, -1) + (bobToken.endsWith('A') ? 'B' : 'A'), '']) {
      for (const r of [await request(`${bobConsole.origin}/login?token=${t}`), await postLogin(`${bobConsole.origin}/login?token=${t}`)]) {
        assert.equal(r.status, 401);
        assert.match(r.body, /^login token missing or wrong/);
        assert.equal(r.headers['set-cookie'], undefined);
      }
    }
    // alice's session is not bob's.
    assert.equal((await request(bobConsole.origin + '/approvals', { headers: { cookie: aliceCookie.replace(aliceConsole.cookieName, bobConsole.cookieName) } })).status, 401);
    // A forged Host (DNS rebinding) is refused even with the cookie.
    const cookie = bobCookie;
    const rebind = await request(bobConsole.origin + '/approvals', { headers: { cookie, host: 'evil.example' } });
    assert.equal(rebind.status, 421);
    const page = await request(bobConsole.origin + '/approvals', { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-security-policy'], "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  });

  it('opening the login URL (a link preview, a prefetch) only shows the Log in button and uses nothing up; the login POST needs the console\'s own Origin', async () => {
    const own = await startConsole({ clients: broker.clientFor('operators', 'bob') });
    try {
      for (let i = 0; i < 2; i++) {
        const preview = await request(own.loginUrl, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } });
        assert.equal(preview.status, 200);
        assert.equal(preview.headers['set-cookie'], undefined);
        assert.match(preview.body, /<form method="post" action="\/login"><input type="hidden" name="token" value="[A-Za-z0-9_-]{43}"><button type="submit">Log in<\/button><\/form>/);
      }
      // Its stylesheet loads without a session; the pages do not.
      assert.equal((await request(`${own.origin}/style.css`)).status, 200);
      assert.equal((await request(`${own.origin}/approvals`)).status, 401);
      // A cross-site page cannot log a victim's browser in with a token it learnt: no Origin, null or foreign is 403.
      for (const origin of [undefined, 'null', 'http://evil.example']) {
        const headers: Record<string, string> = origin === undefined ? {} : { origin };
        const r = await request(`${own.origin}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: `token=${loginToken(own)}` });
        assert.equal(r.status, 403, String(origin));
        assert.equal(r.headers['set-cookie'], undefined);
      }
      // None of that used the URL: the operator's own login still works, once.
      const login = await postLogin(own.loginUrl);
      assert.equal(login.status, 303);
      assert.match(String(login.headers['set-cookie']?.[0]), new RegExp(`^${own.cookieName}=`));
      assert.equal((await postLogin(own.loginUrl)).status, 401);
    } finally {
      await own.close();
    }
  });

  it('the login URL works once: the same URL again from a fresh client is 401 (already used); the session cookie is its own secret, and a cookie equal to the login token is no session', async () => {
    const own = await startConsole({ clients: broker.clientFor('operators', 'bob') });
    try {
      const token = loginToken(own);
      const first = await postLogin(own.loginUrl);
      assert.equal(first.status, 303);
      const setCookie = String(first.headers['set-cookie']?.[0]);
      const m = new RegExp(`^${own.cookieName}=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=Strict; Path=/$`).exec(setCookie);
      assert.ok(m, setCookie);
      const session = m[1]!;
      assert.notEqual(session, token, 'the cookie is not the login token');
      // Someone who later sees the URL (scrollback, shell history, a screenshot) gets nothing.
      for (const replay of [await request(own.loginUrl), await postLogin(own.loginUrl)]) {
        assert.equal(replay.status, 401);
        assert.equal(replay.headers['set-cookie'], undefined);
        assert.match(replay.body, /this login URL was already used/);
        assert.match(replay.body, /restart `secret-broker console` for a new one/);
        assert.doesNotMatch(replay.body, new RegExp(token));
      }
      // The login token is no session.
      for (const p of ['/approvals', '/leases']) {
        const r = await request(own.origin + p, { headers: { cookie: `${own.cookieName}=${token}` } });
        assert.equal(r.status, 401, p);
        assert.doesNotMatch(r.body, /<table/);
      }
      // The session the first visit made still works, and opening the URL again in that browser just goes to the pages.
      assert.equal((await request(own.origin + '/approvals', { headers: { cookie: `${own.cookieName}=${session}` } })).status, 200);
      const again = await request(own.loginUrl, { headers: { cookie: `${own.cookieName}=${session}` } });
      assert.equal(again.status, 303);
      assert.equal(again.headers.location, '/approvals');
      assert.equal(again.headers['set-cookie'], undefined);
      // A near-miss session is no session either.
      const near = session.slice(0, -1) + (session.endsWith('A') ? 'B' : 'A');
      assert.equal((await request(own.origin + '/approvals', { headers: { cookie: `${own.cookieName}=${near}` } })).status, 401);
    } finally {
      await own.close();
    }
  });

  it('a POST with a foreign Origin, or none, is refused (403) and decides nothing', async () => {
    const { id } = await open({ purpose: 'origin check' });
    const cookie = bobCookie;
    const body = new URLSearchParams({ decision: 'approve', reason: 'csrf' }).toString();
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    for (const origin of ['http://evil.example', 'http://127.0.0.1:1', aliceConsole.origin, 'null', undefined]) {
      const r = await request(`${bobConsole.origin}/approvals/${id}/decide`, { method: 'POST', body, headers: origin === undefined ? headers : { ...headers, origin } });
      assert.equal(r.status, 403, String(origin));
      assert.match(r.body, /refused: Origin/);
    }
    // Without the cookie the Origin does not help.
    const anon = await request(`${bobConsole.origin}/approvals/${id}/decide`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: bobConsole.origin } });
    assert.equal(anon.status, 401);
    assert.equal((await call<unknown, Approval__Output>(broker.clientFor('operators', 'bob').operator, 'GetApproval', { approvalId: id })).state, 'PENDING');
  });

  it('approvals: the page shows what an approver must see, agent text as text; the owner is refused; another approver approves and the waiting agent sees it', async () => {
    const { id } = await open();
    const watching = watchUntilDecided(broker.clientFor('agents', 'support-bot'), id);

    // alice owns support-bot: her console shows the request, and the daemon refuses her decision.
    const alicePage = await browser.newPage();
    await alicePage.goto(`${aliceConsole.origin}/approvals`, { waitUntil: 'load' });
    const row = `tr[data-approval="${id}"]`;
    await alicePage.type(`${row} form:first-of-type input[name=reason]`, 'looks fine to me');
    await Promise.all([alicePage.waitForNavigation({ waitUntil: 'load' }), alicePage.click(`${row} form:first-of-type button`)]);
    const refused = (await alicePage.evaluate(`document.querySelector('.error')?.textContent ?? document.body.innerText`)) as string;
    assertCliRefusal(refused, /alice owns the agent support-bot and may not decide its requests \(four eyes\)/);
    await alicePage.screenshot({ path: path.join(SHOTS, 'approvals-owner-refused.png'), fullPage: true });
    assert.equal((await call<unknown, Approval__Output>(broker.clientFor('operators', 'bob').operator, 'GetApproval', { approvalId: id })).state, 'PENDING');

    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/approvals`, { waitUntil: 'load' });
    const cookies = (await page.cookies()) as Array<{ name: string; httpOnly: boolean; sameSite?: string }>;
    // alice's console session (another port) stays beside bob's: the port is in the cookie's name.
    assert.deepEqual(
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite]).sort(),
      [
        [aliceConsole.cookieName, true, 'Strict'],
        [bobConsole.cookieName, true, 'Strict'],
      ].sort(),
    );
    const shown = (await page.evaluate(`(() => {
      const cells = Array.from(document.querySelectorAll('${row} td')).map((td) => td.textContent);
      return { cells, scripts: document.querySelectorAll('script').length, imgs: document.querySelectorAll('img').length, pwned: window.__pwned ?? null };
    })()`)) as { cells: string[]; scripts: number; imgs: number; pwned: unknown };
    assert.equal(shown.cells[1], 'support-bot');
    assert.equal(shown.cells[2], 'alice');
    assert.equal(shown.cells[3], 'billing.refund');
    assert.equal(shown.cells[4], 'stripe');
    assert.deepEqual(JSON.parse(shown.cells[5]!), { amount: 50000, note: '<b>bold</b>' });
    assert.equal(shown.cells[6], HOSTILE); // the <script> and <img> are text
    assert.equal(shown.cells[7], '600 (standard)');
    assert.equal(shown.cells[8], 'billing-refund-approved');
    assert.equal(shown.cells[9], '15m 0s');
    assert.equal(shown.scripts, 0);
    assert.equal(shown.imgs, 0);
    assert.equal(shown.pwned, null);
    await page.screenshot({ path: path.join(SHOTS, 'approvals.png'), fullPage: true });

    await page.type(`${row} form:first-of-type input[name=reason]`, 'customer is owed it');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(`${row} form:first-of-type button`)]);
    const notice = (await page.evaluate(`document.querySelector('.notice')?.textContent ?? ''`)) as string;
    assert.equal(notice, `${id}: approved (approved by you)`);
    const seen = await watching;
    assert.equal(seen.state, 'APPROVED');
    assert.equal(seen.approvalId, id);
    // The agent sees the state, not who voted; the daemon recorded bob's vote with his reason.
    const decided = await call<unknown, Approval__Output>(broker.clientFor('operators', 'bob').operator, 'GetApproval', { approvalId: id });
    assert.deepEqual(decided.approvedBy, ['bob']);
    assert.equal(decided.reason, 'customer is owed it');
    await page.screenshot({ path: path.join(SHOTS, 'approvals-approved.png'), fullPage: true });
  });

  it('evidence: the page verifies an entry\'s inclusion proof in the browser (verified), and a tampered entry or proof fails', async () => {
    // The daemon signs a checkpoint each second: sign one now, so the page's covers the entries the tests before made.
    await broker.app.ledger!.signCheckpoint();
    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/evidence`, { waitUntil: 'load' });
    const treeSize = Number(await page.evaluate(`document.getElementById('cp-size').textContent`));
    assert.ok(treeSize >= 3, `tree size ${treeSize}`);
    const verdict = async (): Promise<string> => {
      await page.waitForFunction(`['verified', 'failed'].includes(document.getElementById('verdict')?.textContent)`, { timeout: 10_000 });
      return (await page.evaluate(`document.getElementById('verdict').textContent`)) as string;
    };
    const again = async (): Promise<string> => {
      await page.evaluate(`document.getElementById('verdict').textContent = ''`);
      await page.click('#verify-again');
      return verdict();
    };
    // Several indexes: the first, one in the middle, the last (proof shapes differ).
    for (const index of [0, Math.floor(treeSize / 2), treeSize - 1]) {
      await page.goto(`${bobConsole.origin}/evidence?index=${index}`, { waitUntil: 'load' });
      assert.equal(await verdict(), 'verified', `index ${index}`);
    }
    await page.screenshot({ path: path.join(SHOTS, 'evidence-verified.png'), fullPage: true });
    // Tamper with the entry bytes the page was handed: one byte changed.
    const original = (await page.evaluate(`document.getElementById('proof').dataset.entry`)) as string;
    await page.evaluate(`(() => { const el = document.getElementById('proof'); const b = atob(el.dataset.entry); el.dataset.entry = btoa(b.slice(0, 10) + (b[10] === 'x' ? 'y' : 'x') + b.slice(11)); })()`);
    assert.equal(await again(), 'failed');
    await page.screenshot({ path: path.join(SHOTS, 'evidence-tampered.png'), fullPage: true });
    // Restored: verified again (the failure was the tamper, not the page).
    await page.evaluate(`document.getElementById('proof').dataset.entry = ${JSON.stringify(original)}`);
    assert.equal(await again(), 'verified');
    // A proof hash flipped, a wrong index, a dropped proof hash: each fails.
    await page.evaluate(`(() => { const el = document.getElementById('proof'); const h = el.dataset.proof.split(' '); const b = atob(h[0]); h[0] = btoa(String.fromCharCode(b.charCodeAt(0) ^ 1) + b.slice(1)); el.dataset.proof = h.join(' '); })()`);
    assert.equal(await again(), 'failed');
    await page.goto(`${bobConsole.origin}/evidence?index=${treeSize - 1}`, { waitUntil: 'load' });
    assert.equal(await verdict(), 'verified');
    await page.evaluate(`document.getElementById('proof').dataset.index = '0'`);
    assert.equal(await again(), 'failed');
    await page.goto(`${bobConsole.origin}/evidence?index=${treeSize - 1}`, { waitUntil: 'load' });
    await page.evaluate(`(() => { const el = document.getElementById('proof'); el.dataset.proof = el.dataset.proof.split(' ').slice(1).join(' '); })()`);
    assert.equal(await again(), 'failed');
    // A bad index is a clear error naming the field.
    await page.goto(`${bobConsole.origin}/evidence?index=-1`, { waitUntil: 'load' });
    assert.match((await page.evaluate(`document.querySelector('.error').textContent`)) as string, /^index: expected an entry index/);
  });

  it('leases: active leases by agent and action, revoke with a reason through the page', async () => {
    const agent = broker.clientFor('agents', 'support-bot').agent;
    const lease = (ticket: string) =>
      call<unknown, { status: string; lease: { leaseId: string } }>(agent, 'RequestLease', { action: 'tickets.update', resource: `ticket/${ticket}`, purpose: 'close <i>it</i>', params: jsonToStruct({ ticket }), ttlSeconds: 300, maxUses: 3 });
    const a = await lease('T-1');
    const b = await lease('T-2');
    assert.deepEqual([a.status, b.status], ['GRANTED', 'GRANTED']);
    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/leases?agent=support-bot&action=tickets.update`, { waitUntil: 'load' });
    const rows = async () => (await page.evaluate(`Array.from(document.querySelectorAll('tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).slice(0, 4).map((td) => td.textContent))`)) as string[][];
    assert.deepEqual(
      (await rows()).sort((x, y) => x[3]!.localeCompare(y[3]!)),
      [
        ['support-bot', 'tickets.update', 'ticket/T-1', a.lease.leaseId],
        ['support-bot', 'tickets.update', 'ticket/T-2', b.lease.leaseId],
      ].sort((x, y) => x[3]!.localeCompare(y[3]!)),
    );
    assert.equal(await page.$('.cut'), null, 'a list that fits says nothing about a cut');
    await page.screenshot({ path: path.join(SHOTS, 'leases.png'), fullPage: true });
    const form = `form[action="/leases/revoke"]:has(input[value="${a.lease.leaseId}"])`;
    await page.type(`${form} input[name=reason]`, 'ticket closed by hand');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(`${form} button`)]);
    assert.equal(await page.evaluate(`document.querySelector('.notice')?.textContent ?? document.querySelector('.error')?.textContent`), 'revoked 1 lease(s)');
    assert.deepEqual((await rows()).map((r) => r[3]), [b.lease.leaseId]);
    const revoked = await call<unknown, { status: string; revokeReason: string }>(agent, 'GetLease', { leaseId: a.lease.leaseId });
    // The console acts as bob, and the daemon says so.
    assert.deepEqual([revoked.status, revoked.revokeReason], ['REVOKED', 'operator bob: ticket closed by hand']);
  });

  it('WhoAmI names the operator and roles; ListDecisions (auditor) returns recent denials with their explanations; the Denials page shows them as text', async () => {
    const bob = broker.clientFor('operators', 'bob');
    const me = await call<unknown, WhoAmIResponse__Output>(bob.operator, 'WhoAmI', {});
    assert.deepEqual([me.name, me.id, me.roles], ['bob', 'spiffe://example.org/human/bob', ['approver', 'admin', 'auditor']]);
    // A refund over every permit's limit: denied, with an explanation in the log.
    const denied = await call<unknown, LeaseResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', { action: 'billing.refund', resource: 'stripe', purpose: 'refund <script>x</script>', params: jsonToStruct({ amount: 90000 }) });
    const given = expectDenied(denied);
    const res = await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { effect: 'deny', agent: 'support-bot' });
    const d = res.decisions[0]!;
    assert.equal(d.action, 'billing.refund');
    assert.equal(d.agent, 'support-bot');
    const expl = JSON.parse(d.explanationJson) as AnyExplanation & { candidates?: Array<{ id: string }> };
    // The record is the decision entry as logged: a denial with its explanation and hint, the one the agent was given.
    expectDenialEntry({ type: 'decision', decision: { effect: d.effect }, explanation: expl });
    assert.equal(expl.hint, given.hint);
    assert.ok(expl.candidates?.some((c) => c.id === 'billing-refund-approved'), d.explanationJson);
    assert.equal((await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { effect: 'allow', action: 'billing.refund' })).decisions.length, 0);
    await expectCode(call(bob.operator, 'ListDecisions', { effect: 'maybe' }), grpc.status.INVALID_ARGUMENT, /^effect: expected "allow", "deny", "allow_with_obligations" or empty/);
    await expectCode(call(bob.operator, 'ListDecisions', { limit: 501 }), grpc.status.INVALID_ARGUMENT, /^limit: expected at most 500/);
    const all = await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', {});
    assert.ok(all.decisions.length >= 2, 'the grants of the leases test and this denial');
    const indexes = all.decisions.map((x) => Number(x.index));
    assert.deepEqual(indexes, [...indexes].sort((a, b) => b - a), 'newest first');
    assert.equal(Number(all.scanned), broker.app.ledger!.size, 'a short log is read whole');
    const one = await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { limit: 1 });
    assert.deepEqual(one.decisions.map((x) => x.index), [all.decisions[0]!.index]);
    assert.equal((await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { agent: 'nobody-bot' })).decisions.length, 0);

    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/denials`, { waitUntil: 'load' });
    const seen = (await page.evaluate(`(() => {
      const row = document.querySelector('tr[data-index="${d.index}"]');
      return { who: document.querySelector('header .who').textContent, nav: Array.from(document.querySelectorAll('header a')).map((a) => a.textContent),
        effect: row.querySelector('td.effect').textContent, hint: row.querySelector('.hint')?.textContent ?? '', expl: row.querySelector('pre.explanation').textContent };
    })()`)) as { who: string; nav: string[]; effect: string; hint: string; expl: string };
    assert.equal(seen.who, 'bob (approver, admin, auditor)');
    assert.deepEqual(seen.nav, ['Approvals', 'Evidence', 'Leases', 'Trust', 'Denials']);
    assert.equal(seen.effect, d.effect);
    assert.equal(seen.hint, `hint: ${expl.hint}`);
    assert.deepEqual(JSON.parse(seen.expl), expl);
    await page.screenshot({ path: path.join(SHOTS, 'denials.png'), fullPage: true });
  });

  it('ListDecisions carries a folded denial window (its count, span and first entry) and the Denials page shows it; an allow_with_obligations decision is selectable', async () => {
    const bob = broker.clientFor('operators', 'bob');
    const agent = broker.clientFor('agents', 'support-bot').agent;
    // Three identical denials: the first is written at once, the other two fold into the window's closing entry.
    const ask = () => call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'billing.refund', resource: 'stripe', purpose: 'fold me', params: jsonToStruct({ amount: 95000 }) });
    for (let i = 0; i < 3; i++) expectDenied(await ask());
    // The window ends once the clock passes it; the folder's timer (every 10 s) writes the closing entry.
    clock.advance(61_000);
    let closing: ListDecisionsResponse__Output['decisions'][number] | undefined;
    for (const deadline = Date.now() + 20_000; !closing && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const res = await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { effect: 'deny', agent: 'support-bot', limit: 5 });
      closing = res.decisions.find((x) => x.foldedCount > 0);
    }
    assert.ok(closing, 'the folded window closed and ListDecisions returned it');
    assert.equal(closing.foldedCount, 2, 'two identical denials after the first');
    assert.equal(closing.flood, false);
    const first = (await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { effect: 'deny', agent: 'support-bot', limit: 5 })).decisions.find((x) => x.index === closing!.firstIndex);
    assert.ok(first, `the first entry #${closing.firstIndex} of the window is listed too`);
    assert.equal(first.foldedCount, 0, 'an ordinary entry has no folded count');
    assert.equal(closing.foldedSince, first.time, 'the window began with its first entry');
    assert.equal(Date.parse(closing.foldedUntil) - Date.parse(closing.foldedSince), 61_000);

    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/denials`, { waitUntil: 'load' });
    const shown = (await page.evaluate(`(() => {
      const row = (i) => document.querySelector('tr[data-index="' + i + '"]');
      return { closing: row('${closing.index}').querySelector('p.folded')?.textContent ?? '', first: row('${closing.firstIndex}').querySelector('p.folded')?.textContent ?? '' };
    })()`)) as { closing: string; first: string };
    assert.equal(shown.closing, `×2 more identical decisions, ${closing.foldedSince} to ${closing.foldedUntil}; first #${closing.firstIndex}`);
    assert.equal(shown.first, '');

    // A refund over the approval threshold: the permit carries an approval obligation, and the decision says so.
    const pending = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'billing.refund', resource: 'stripe', purpose: 'needs approval', params: jsonToStruct({ amount: 50000 }) });
    assert.equal(pending.status, 'PENDING_APPROVAL');
    try {
      const obligated = await call<unknown, ListDecisionsResponse__Output>(bob.operator, 'ListDecisions', { effect: 'allow_with_obligations', agent: 'support-bot' });
      assert.ok(obligated.decisions.length >= 1, 'an allow_with_obligations decision is selected');
      assert.ok(obligated.decisions.every((x) => x.effect === 'allow_with_obligations'));
      await page.goto(`${bobConsole.origin}/denials?effect=allow_with_obligations`, { waitUntil: 'load' });
      const effects = (await page.evaluate(`Array.from(document.querySelectorAll('td.effect')).map((td) => td.textContent)`)) as string[];
      assert.ok(effects.length >= 1 && effects.every((e) => e === 'allow_with_obligations'), JSON.stringify(effects));
      assert.equal(await page.evaluate(`document.querySelector('select[name="effect"]').value`), 'allow_with_obligations');
    } finally {
      await page.close();
      await call(bob.operator, 'DecideApproval', { approvalId: pending.approvalId, approve: false, reason: 'console test cleanup' });
    }
  });

  it('trust: score, tier and history as an inline SVG chart; an admin sets it through the page', async () => {
    const page = await browser.newPage();
    await page.goto(`${bobConsole.origin}/trust?agent=support-bot`, { waitUntil: 'load' });
    const before = Number(await page.evaluate(`document.getElementById('trust-score').textContent`));
    await page.type('form[action="/trust/set"] input[name=score]', '250');
    await page.type('form[action="/trust/set"] input[name=reason]', 'incident <b>42</b>');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/trust/set"] button')]);
    await page.type('form[action="/trust/set"] input[name=score]', '400');
    await page.type('form[action="/trust/set"] input[name=reason]', 'recovered');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/trust/set"] button')]);
    const seen = (await page.evaluate(`({
      score: document.getElementById('trust-score').textContent,
      notice: document.querySelector('.notice')?.textContent ?? document.querySelector('.error')?.textContent,
      points: document.querySelectorAll('svg.chart circle.pt').length,
      paths: document.querySelectorAll('svg.chart path.line').length,
      notes: Array.from(document.querySelectorAll('table td')).map((td) => td.textContent).filter((t) => t.includes('incident')),
    })`)) as { score: string; notice: string; points: number; paths: number; notes: string[] };
    assert.equal(seen.score, '400');
    assert.match(seen.notice, /^support-bot: 400 \(/);
    assert.notEqual(before, 400);
    assert.equal(seen.points, 3); // the score before the first change, then each change
    assert.equal(seen.paths, 1);
    assert.deepEqual(seen.notes, ['incident <b>42</b>']);
    await page.screenshot({ path: path.join(SHOTS, 'trust.png'), fullPage: true });
    // The daemon enforces roles whatever the page offers: an out-of-range score is its error, shown.
    await page.type('form[action="/trust/set"] input[name=score]', '999999');
    await page.type('form[action="/trust/set"] input[name=reason]', 'too much');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/trust/set"] button')]);
    assert.match((await page.evaluate(`document.querySelector('.error')?.textContent ?? ''`)) as string, /INVALID_ARGUMENT: score/);
    // A signal goes the same way: the page's own field check (400), the daemon's refusal as it said it, the new state.
    const signal = (fields: Record<string, string>) =>
      request(`${bobConsole.origin}/trust/signal`, { method: 'POST', body: new URLSearchParams({ agent: 'support-bot', ...fields }).toString(), headers: { cookie: bobCookie, 'content-type': 'application/x-www-form-urlencoded', origin: bobConsole.origin } });
    const noKind = await signal({ detail: 'seen' });
    assert.equal(noKind.status, 400);
    assert.match(noKind.body, /kind: required/);
    const unknownKind = await signal({ kind: 'no.such.kind', detail: 'seen' });
    assert.equal(unknownKind.status, 400, unknownKind.body);
    assert.match(unknownKind.body, /class="error"[^>]*>INVALID_ARGUMENT: kind/);
    const ok = await signal({ kind: 'anomaly', weight: '-10', detail: 'seen' });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /support-bot: 390 \(/);
  });

  it('`secret-broker console` (a real process): bad flags are usage errors; it prints the one-time URL, serves as the operator, and stops on SIGTERM', async () => {
    const bob = pki.layout.operators['bob']!;
    const badPort = await runCapture(['console', '--port', 'http', '--addr', broker.addr, '--ca', pki.layout.caCert, '--cert', bob.cert, '--key', bob.key]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.err, /--port: expected a port number/);
    const noCreds = await runCapture(['console']);
    assert.equal(noCreds.code, 2);
    assert.match(noCreds.err, /missing --addr/);
    // A port it cannot bind (here the running console's) is a failure, not a usage error: exit 1, as serve and dev.
    const busy = new URL(bobConsole.origin).port;
    const inUse = await runCapture(['console', '--port', busy, '--addr', broker.addr, '--ca', pki.layout.caCert, '--cert', bob.cert, '--key', bob.key]);
    assert.equal(inUse.code, 1, inUse.err);
    assert.match(inUse.err, new RegExp(`cannot serve the console on 127\\.0\\.0\\.1:${busy}: EADDRINUSE`));

    const child = spawn(process.execPath, ['-r', 'reflect-metadata', '-r', 'tsx/cjs', path.join(REPO, 'src/main.ts'), 'console', '--addr', broker.addr, '--ca', pki.layout.caCert, '--cert', bob.cert, '--key', bob.key], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 30_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /(http:\/\/127\.0\.0\.1:\d+\/login\?token=[A-Za-z0-9_-]{43})\n/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`console exited ${code}: ${out}`)));
      });
      assert.equal(out.split(url).length, 2, 'the token is printed once');
      assert.match(out, /open this URL and press Log in: it logs one browser in, once/);
      const login = await postLogin(url);
      assert.equal(login.status, 303);
      const cookie = String(login.headers['set-cookie']![0]).split(';')[0]!;
      const origin = new URL(url).origin;
      const denials = await request(`${origin}/denials`, { headers: { cookie } });
      assert.equal(denials.status, 200);
      assert.match(denials.body, /<span class="who">bob \(approver, admin, auditor\)<\/span>/);
      assert.equal((await request(`${origin}/denials`)).status, 401);
      // The printed URL was used: from anywhere else it opens nothing.
      const replay = await request(url);
      assert.equal(replay.status, 401);
      assert.match(replay.body, /already used/);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('each page asks WhoAmI once per request (the header and the admin forms share the answer)', async () => {
    const clients = broker.clientFor('operators', 'bob');
    const real = clients.operator;
    let whoAmIs = 0;
    // call() looks the method up on the client: count WhoAmI, pass everything else through.
    const counting = Object.create(real) as Record<string, unknown>;
    counting['WhoAmI'] = (...args: unknown[]) => {
      whoAmIs++;
      return (real as unknown as Record<string, (...a: unknown[]) => unknown>)['WhoAmI']!.apply(real, args);
    };
    const counted = await startConsole({ clients: { ...clients, operator: counting as unknown as typeof real } });
    try {
      const login = await postLogin(counted.loginUrl);
      const cookie = String(login.headers['set-cookie']![0]).split(';')[0]!;
      const form = { cookie, origin: counted.origin, 'content-type': 'application/x-www-form-urlencoded' };
      const asked: Array<[string, number]> = [];
      for (const [p, opts] of [
        ['/approvals', {}],
        ['/evidence', {}],
        ['/leases', {}],
        ['/trust?agent=support-bot', {}],
        ['/denials', {}],
        ['/leases/revoke', { method: 'POST', body: 'lease_id=x', headers: form }],
        ['/trust/set', { method: 'POST', body: 'agent=support-bot&score=x&reason=r', headers: form }],
      ] as Array<[string, { method?: string; body?: string; headers?: Record<string, string> }]>) {
        whoAmIs = 0;
        const r = await request(counted.origin + p, { headers: { cookie }, ...opts });
        assert.match(r.body, /<span class="who">bob \(approver, admin, auditor\)<\/span>/, p);
        asked.push([p, whoAmIs]);
      }
      assert.deepEqual(asked.filter(([, n]) => n !== 1), [], 'pages that did not ask WhoAmI exactly once');
    } finally {
      await counted.close();
    }
  });

  it('the page offers what the roles allow, and the daemon enforces them anyway: an auditor sees no approvals or admin forms, and a forged admin POST is refused by the daemon', async () => {
    const carolConsole = await startConsole({ clients: broker.clientFor('operators', 'carol') });
    try {
      const cookie = await browserLogin(carolConsole);
      const page = await browser.newPage();
      await page.goto(`${carolConsole.origin}/trust?agent=support-bot`, { waitUntil: 'load' });
      const seen = (await page.evaluate(`({ nav: Array.from(document.querySelectorAll('header a')).map((a) => a.textContent), forms: document.querySelectorAll('form[method=post]').length, who: document.querySelector('header .who').textContent })`)) as { nav: string[]; forms: number; who: string };
      assert.deepEqual(seen.nav, ['Evidence', 'Leases', 'Trust', 'Denials']);
      assert.equal(seen.forms, 0);
      assert.equal(seen.who, 'carol (auditor)');
      const r = await request(`${carolConsole.origin}/trust/set`, {
        method: 'POST',
        headers: { cookie, origin: carolConsole.origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ agent: 'support-bot', score: '900', reason: 'forged' }).toString(),
      });
      assert.equal(r.status, 403);
      assertCliRefusal(r.body, /this RPC requires the operator role &quot;admin&quot;/);
      const approvals = await request(`${carolConsole.origin}/approvals`, { headers: { cookie } });
      assertCliRefusal(approvals.body, /this RPC requires the operator role &quot;approver&quot;/);
    } finally {
      await carolConsole.close();
    }
  });

  // Last: its hundred-odd grants would crowd the log that the denials test reads whole.
  it('leases: a list cut at 100 rows says so and how to see the rest', async () => {
    const agent = broker.clientFor('agents', 'support-bot').agent;
    const bob = broker.clientFor('operators', 'bob').operator;
    const active = async () => (await call<unknown, { leases: unknown[] }>(bob, 'ListLeases', { agent: 'support-bot', status: ['ACTIVE'], limit: 1000 })).leases.length;
    // The trust test left support-bot restricted, where tickets.update is denied.
    await call(bob, 'SetTrust', { agent: 'support-bot', score: 600, reason: 'leases test' });
    const ids: string[] = [];
    while ((await active()) < 101) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call<unknown, { status: string; lease: { leaseId: string } }>(agent, 'RequestLease', { action: 'tickets.update', resource: `ticket/C-${ids.length + i}`, purpose: 'many', params: jsonToStruct({ ticket: `C-${ids.length + i}` }), ttlSeconds: 300, maxUses: 1 }),
        ),
      );
      assert.deepEqual([...new Set(batch.map((r) => r.status))], ['GRANTED']);
      ids.push(...batch.map((r) => r.lease.leaseId));
    }
    const total = await active();
    try {
      const page = await browser.newPage();
      const look = async (q: string) => {
        await page.goto(`${bobConsole.origin}/leases${q}`, { waitUntil: 'load' });
        return (await page.evaluate(`({ rows: document.querySelectorAll('tbody tr').length, cut: document.querySelector('.cut')?.textContent ?? null })`)) as { rows: number; cut: string | null };
      };
      const all = await look('');
      assert.equal(all.rows, 100);
      assert.ok(total > 100, `total ${total}`);
      assert.match(all.cut ?? '', /^Showing the 100 most recently issued of at least 101 active leases; the rest are not shown\. Filter by agent or action to narrow the list\.$/);
      await page.screenshot({ path: path.join(SHOTS, 'leases-cut.png'), fullPage: true });
      // The filter that matches the cut list says so too; one that fits says nothing.
      const filtered = await look('?agent=support-bot&action=tickets.update');
      assert.equal(filtered.rows, 100);
      assert.match(filtered.cut ?? '', /of at least 101 active leases for agent support-bot, action tickets\.update;/);
      assert.match(filtered.cut ?? '', /The console shows at most 100; ListLeases \(role auditor\) takes a higher limit\.$/);
      assert.deepEqual(await look('?agent=nobody-bot'), { rows: 0, cut: null });
    } finally {
      await call(bob, 'RevokeLeases', { agent: 'support-bot', action: 'tickets.update', reason: 'test cleanup' });
    }
  });
});
