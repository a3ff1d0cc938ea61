import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { structToJson } from '../broker/struct';
import { call, type BrokerClients } from '../client/grpc-client';
import { parseCheckpoint } from '../evidence/checkpoint';
import { parseNote } from '../evidence/signed-note';
import { parseTlogProof } from '../evidence/tlog-proof';
import type { Approval__Output } from '../gen/secretbroker/v1/Approval';
import type { Checkpoint__Output } from '../gen/secretbroker/v1/Checkpoint';
import type { EvidenceEntry__Output } from '../gen/secretbroker/v1/EvidenceEntry';
import type { ListApprovalsResponse__Output } from '../gen/secretbroker/v1/ListApprovalsResponse';
import type { ListLeasesResponse__Output } from '../gen/secretbroker/v1/ListLeasesResponse';
import type { Receipt__Output } from '../gen/secretbroker/v1/Receipt';
import type { ListDecisionsResponse__Output } from '../gen/secretbroker/v1/ListDecisionsResponse';
import type { RevokeLeasesResponse__Output } from '../gen/secretbroker/v1/RevokeLeasesResponse';
import type { TrustState__Output } from '../gen/secretbroker/v1/TrustState';
import type { WhoAmIResponse__Output } from '../gen/secretbroker/v1/WhoAmIResponse';
import { esc } from '../lib/html-escape';
import { layout, mayCall, scoreChart, STYLE, usesCell, type Who } from './html';
import { VERIFY_SCRIPT } from './verify-script';

/**
 * The session cookie's name: HttpOnly, SameSite=Strict, Path=/ (set by the one
 * visit the printed login URL allows). Cookies are scoped by host, not port, so the port is
 * in the name: two consoles (two operators) on one machine do not overwrite
 * each other's session.
 */
const sessionCookieName = (port: number): string => `sb_console_${port}`;

/**
 * default-src 'none': nothing loads unless listed; the one stylesheet and the
 * one proof-verifying script come from the console itself; forms post only
 * back to it; no page may frame it.
 */
const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const FORM_LIMIT = 64 * 1024;
/** Rows on the Leases page; one more is asked for, to know (and say) when the list is cut. */
const LEASE_ROWS = 100;

export interface ConsoleOptions {
  /** The operator's clients (mTLS identity); the console calls the daemon as them. */
  clients: BrokerClients;
  /** 0 (default): an ephemeral port. */
  port?: number;
}

export interface RunningConsole {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The session cookie's name (sb_console_PORT). */
  cookieName: string;
  /**
   * The one-time login URL: its token (32 random bytes) works for the first
   * visit only, which sets a session cookie holding a separate random secret.
   */
  loginUrl: string;
  close(): Promise<void>;
}

type Form = Record<string, string>;

/** A gRPC failure as one line for the page: the daemon's own words, never a stack. */
function rpcMessage(err: unknown): { status: number; text: string } {
  const e = err as grpc.ServiceError;
  if (typeof e?.code !== 'number') return { status: 500, text: `internal error: ${(err as Error)?.message ?? String(err)}` };
  const name = grpc.status[e.code] ?? String(e.code);
  const status = e.code === grpc.status.PERMISSION_DENIED ? 403 : e.code === grpc.status.INVALID_ARGUMENT ? 400 : e.code === grpc.status.NOT_FOUND ? 404 : e.code === grpc.status.FAILED_PRECONDITION ? 409 : 502;
  return { status, text: `${name}: ${e.details}` };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function timeLeft(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

const field = (f: Form | undefined, k: string): string => (typeof f?.[k] === 'string' ? f[k]!.trim() : '');

/** The page a GET of the login URL shows: one button, whose POST logs this browser in. */
function loginPage(token: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in · secret-broker console</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main><h1>secret-broker console</h1>
<p>This login URL works once: it opens a session in the browser that logs in with it.</p>
<form method="post" action="/login"><input type="hidden" name="token" value="${esc(token)}"><button type="submit">Log in</button></form>
</main></body></html>`;
}

/**
 * `secret-broker console`: a local web console that runs as a client (like
 * kubectl proxy). It serves on 127.0.0.1 only and calls the daemon over gRPC
 * with the operator's own mTLS identity, so the daemon grows no new
 * authentication surface; the daemon enforces roles on every call.
 */
export async function startConsole(opts: ConsoleOptions): Promise<RunningConsole> {
  const loginToken = randomBytes(32).toString('base64url');
  /**
   * Set by the first visit of the login URL, never before: the URL works once,
   * so someone who sees it later (scrollback, shell history, a screenshot,
   * browser history) cannot open a session, and the cookie never holds the
   * login token.
   */
  let session: string | undefined;
  const hasSession = (req: FastifyRequest): boolean => session !== undefined && sameSecret(cookieValue(req.headers.cookie, cookieName), session);
  const { operator, evidence } = opts.clients;
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: FORM_LIMIT, forceCloseConnections: true });
  let origin = '';
  let cookieName = '';

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Content-Security-Policy', CSP);
    reply.header('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on form posts.
    reply.header('Referrer-Policy', 'same-origin');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cache-Control', 'no-store');
    // DNS rebinding: only the console's own host name reaches it.
    if (req.headers.host !== origin.slice('http://'.length)) return reply.code(421).type('text/plain').send('wrong Host: open the console at ' + origin);
    const url = new URL(req.url, origin);
    // The login routes check the token themselves; the stylesheet is the login page's too.
    if ((url.pathname === '/login' && (req.method === 'GET' || req.method === 'POST')) || (url.pathname === '/style.css' && req.method === 'GET')) return undefined;
    if (!hasSession(req)) {
      return reply.code(401).type('text/plain').send('no console session: open the URL the console printed (it works once)');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.headers.origin !== origin) {
      return reply.code(403).type('text/plain').send(`refused: Origin ${JSON.stringify(req.headers.origin ?? null)} is not this console (${origin})`);
    }
    return undefined;
  });

  const html = (reply: FastifyReply, page: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(page);

  /**
   * The login URL: a GET only shows a Log in button, the POST it sends uses the
   * URL up. Link previews and prefetchers (a chat, a terminal) fetch URLs they
   * see with GET; they must neither log anyone in nor use up the operator's one login.
   */
  const loginRefusal = (reply: FastifyReply, token: string | undefined, req: FastifyRequest): FastifyReply | undefined => {
    if (!sameSecret(token, loginToken)) return reply.code(401).type('text/plain').send('login token missing or wrong: open the URL the console printed');
    // The browser that used it already has its session: opening the URL again there just goes to the pages.
    if (hasSession(req)) return reply.redirect('/approvals', 303);
    if (session !== undefined) return reply.code(401).type('text/plain').send('this login URL was already used: it works once; restart `secret-broker console` for a new one');
    return undefined;
  };
  app.get('/login', async (req, reply) => {
    const token = (req.query as Record<string, unknown> | undefined)?.['token'];
    const refused = loginRefusal(reply, typeof token === 'string' ? token : undefined, req);
    if (refused) return refused;
    return html(reply, loginPage(loginToken));
  });
  app.post('/login', async (req, reply) => {
    if (req.headers.origin !== origin) return reply.code(403).type('text/plain').send(`refused: Origin ${JSON.stringify(req.headers.origin ?? null)} is not this console (${origin})`);
    const refused = loginRefusal(reply, field(req.body as Form | undefined, 'token') || undefined, req);
    if (refused) return refused;
    // No await between the check and this assignment: of two concurrent logins, one wins.
    session = randomBytes(32).toString('base64url');
    reply.header('Set-Cookie', `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`);
    return reply.redirect('/approvals', 303);
  });
  /**
   * Asked once per page request (the header and the admin forms share the
   * answer): roles follow the daemon's configuration, not the console's memory.
   */
  const whoAmI = async (): Promise<Who | undefined> => {
    try {
      const w = await call<unknown, WhoAmIResponse__Output>(operator, 'WhoAmI', {});
      return { name: w.name, roles: w.roles };
    } catch {
      return undefined;
    }
  };
  const page = (title: string, body: string, who: Who | undefined, opts: { error?: string; notice?: string; script?: boolean } = {}): string =>
    layout(title, body, { ...opts, ...(who ? { who } : {}) });

  app.get('/style.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(STYLE));
  app.get('/verify.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(VERIFY_SCRIPT));
  app.get('/', async (_req, reply) => reply.redirect('/approvals', 303));

  // ---- Approvals -----------------------------------------------------------
  const approvalsPage = async (msg: { error?: string; notice?: string } = {}): Promise<{ page: string }> => {
    const who = await whoAmI();
    let body: string;
    try {
      const res = await call<unknown, ListApprovalsResponse__Output>(operator, 'ListApprovals', { state: 'PENDING' });
      body = res.approvals.length ? approvalsTable(res.approvals) : '<p>No pending approvals in your groups.</p>';
    } catch (err) {
      body = `<div class="error" role="alert">${esc(rpcMessage(err).text)}</div>`;
    }
    return { page: page('Approvals', body, who, msg) };
  };
  app.get('/approvals', async (_req, reply) => html(reply, (await approvalsPage()).page));
  app.post<{ Params: { id: string }; Body: Form }>('/approvals/:id/decide', async (req, reply) => {
    const decision = field(req.body, 'decision');
    const reason = field(req.body, 'reason');
    if (decision !== 'approve' && decision !== 'deny') return html(reply, (await approvalsPage({ error: 'decision: expected approve or deny' })).page, 400);
    if (!reason) return html(reply, (await approvalsPage({ error: 'reason: required (say why you decide)' })).page, 400);
    try {
      const a = await call<unknown, Approval__Output>(operator, 'DecideApproval', { approvalId: req.params.id, approve: decision === 'approve', reason });
      return html(reply, (await approvalsPage({ notice: `${a.approvalId}: ${String(a.state).toLowerCase()} (${decision === 'approve' ? 'approved' : 'denied'} by you)` })).page);
    } catch (err) {
      const m = rpcMessage(err);
      return html(reply, (await approvalsPage({ error: m.text })).page, m.status);
    }
  });

  // ---- Evidence ------------------------------------------------------------
  app.get<{ Querystring: { index?: string } }>('/evidence', async (req, reply) => {
    const who = await whoAmI();
    const parts: string[] = [];
    let error: string | undefined;
    let status = 200;
    let script = false;
    try {
      const cp = await call<unknown, Checkpoint__Output>(evidence, 'GetCheckpoint', {});
      parts.push(
        '<h2>Latest checkpoint</h2><table>',
        `<tr><th>origin</th><td><code>${esc(cp.origin)}</code></td></tr>`,
        `<tr><th>tree size</th><td id="cp-size">${esc(cp.size)}</td></tr>`,
        `<tr><th>root hash</th><td><code id="cp-root">${esc(Buffer.from(cp.rootHash).toString('hex'))}</code></td></tr>`,
        `<tr><th>signed note</th><td><pre>${esc(Buffer.from(cp.note).toString('utf8'))}</pre></td></tr></table>`,
      );
      parts.push(
        '<h2>Entry</h2><form method="get" action="/evidence" class="inline"><label>index <input type="text" name="index" inputmode="numeric" value="',
        esc(req.query.index ?? ''),
        '"></label><button type="submit">show and verify</button></form>',
      );
      const raw = req.query.index;
      if (raw !== undefined && raw !== '') {
        if (!/^(0|[1-9][0-9]{0,15})$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
          error = 'index: expected an entry index (a whole number)';
          status = 400;
        } else {
          const index = Number(raw);
          const entry = await call<unknown, EvidenceEntry__Output>(evidence, 'GetEntry', { index });
          const receipt = await call<unknown, Receipt__Output>(evidence, 'GetReceipt', { index, treeSize: 0 });
          const proof = parseTlogProof(receipt.tlogProof);
          const checkpoint = parseCheckpoint(parseNote(proof.checkpointNote).text);
          const bytes = Buffer.from(entry.entry);
          script = true;
          parts.push(
            `<p>Inclusion proof of entry ${esc(index)} in the tree of size ${esc(checkpoint.size)}, checked by this page with WebCrypto SHA-256 (RFC 6962): `,
            '<span id="verdict" class="verdict">not verified (the check runs in your browser)</span> <button type="button" id="verify-again">verify again</button></p>',
            `<div id="proof" data-index="${esc(index)}" data-size="${esc(checkpoint.size)}" data-entry="${esc(bytes.toString('base64'))}"`,
            ` data-root="${esc(checkpoint.rootHash.toString('base64'))}" data-proof="${esc(proof.proof.map((h) => h.toString('base64')).join(' '))}"></div>`,
            `<table><tr><th>leaf hash (daemon)</th><td><code>${esc(Buffer.from(entry.leafHash).toString('hex'))}</code></td></tr>`,
            `<tr><th>proof hashes</th><td><code>${proof.proof.map((h) => esc(h.toString('hex'))).join('<br>') || '(none)'}</code></td></tr>`,
            `<tr><th>entry</th><td><pre id="entry-text">${esc(prettyJson(bytes))}</pre></td></tr></table>`,
          );
        }
      }
    } catch (err) {
      const m = rpcMessage(err);
      error = m.text;
      status = m.status;
    }
    return html(reply, page('Evidence', parts.join(''), who, { ...(error ? { error } : {}), script }), status);
  });

  // ---- Leases --------------------------------------------------------------
  const leasesPage = async (filter: { agent: string; action: string }, msg: { error?: string; notice?: string } = {}): Promise<string> => {
    const who = await whoAmI();
    let body = `<form method="get" action="/leases" class="inline"><label>agent <input type="text" name="agent" value="${esc(filter.agent)}"></label><label>action <input type="text" name="action" value="${esc(filter.action)}"></label><button type="submit">filter</button></form>`;
    try {
      // The daemon lists the most recently issued first, so the cut keeps the newest.
      const res = await call<unknown, ListLeasesResponse__Output>(operator, 'ListLeases', { agent: filter.agent, action: filter.action, status: ['ACTIVE'], limit: LEASE_ROWS + 1 });
      const admin = mayCall(who, 'Operator', 'RevokeLeases');
      const leases = res.leases.slice(0, LEASE_ROWS).sort((a, b) => a.agent.localeCompare(b.agent) || a.action.localeCompare(b.action) || a.leaseId.localeCompare(b.leaseId));
      // Above the table, where it is seen: a cut list says so and how to see the rest.
      if (res.leases.length > LEASE_ROWS) {
        const scope = [filter.agent ? `agent ${filter.agent}` : '', filter.action ? `action ${filter.action}` : ''].filter(Boolean).join(', ');
        const next = filter.agent && filter.action ? `The console shows at most ${LEASE_ROWS}; ListLeases (role auditor) takes a higher limit.` : 'Filter by agent or action to narrow the list.';
        body += `<p class="cut" role="status">${esc(`Showing the ${LEASE_ROWS} most recently issued of at least ${LEASE_ROWS + 1} active leases${scope ? ` for ${scope}` : ''}; the rest are not shown. ${next}`)}</p>`;
      }
      body += leases.length
        ? `<table><thead><tr><th>agent</th><th>action</th><th>resource</th><th>lease</th><th>uses left</th><th>issued</th><th>expires</th>${admin ? '<th>revoke</th>' : ''}</tr></thead><tbody>${leases
            .map(
              (l) =>
                `<tr><td>${esc(l.agent)}</td><td>${esc(l.action)}</td><td>${esc(l.resource)}</td><td><code>${esc(l.leaseId)}</code></td><td>${usesCell(l)}</td><td>${esc(l.issuedAt)}</td><td>${esc(l.expiresAt)}</td>` +
                (admin ? `<td><form method="post" action="/leases/revoke" class="inline"><input type="hidden" name="lease_id" value="${esc(l.leaseId)}"><input type="text" name="reason" required placeholder="reason"><button type="submit">revoke</button></form></td>` : '') +
                '</tr>',
            )
            .join('')}</tbody></table>`
        : '<p>No active leases.</p>';
    } catch (err) {
      body += `<div class="error" role="alert">${esc(rpcMessage(err).text)}</div>`;
    }
    return page('Leases', body, who, msg);
  };
  app.get<{ Querystring: { agent?: string; action?: string } }>('/leases', async (req, reply) =>
    html(reply, await leasesPage({ agent: String(req.query.agent ?? ''), action: String(req.query.action ?? '') })),
  );
  app.post<{ Body: Form }>('/leases/revoke', async (req, reply) => {
    const leaseId = field(req.body, 'lease_id');
    const reason = field(req.body, 'reason');
    const none = { agent: '', action: '' };
    if (!leaseId) return html(reply, await leasesPage(none, { error: 'lease_id: required' }), 400);
    if (!reason) return html(reply, await leasesPage(none, { error: 'reason: required (say why you revoke)' }), 400);
    try {
      const res = await call<unknown, RevokeLeasesResponse__Output>(operator, 'RevokeLeases', { leaseId, reason });
      return html(reply, await leasesPage(none, { notice: `revoked ${res.revoked.length} lease(s)` }));
    } catch (err) {
      const m = rpcMessage(err);
      return html(reply, await leasesPage(none, { error: m.text }), m.status);
    }
  });

  // ---- Trust ---------------------------------------------------------------
  const trustPage = async (agent: string, msg: { error?: string; notice?: string } = {}, status = 200) => {
    const who = await whoAmI();
    let body = `<form method="get" action="/trust" class="inline"><label>agent <input type="text" name="agent" value="${esc(agent)}"></label><button type="submit">show</button></form>`;
    let error = msg.error;
    if (agent) {
      try {
        const t = await call<unknown, TrustState__Output>(operator, 'GetTrust', { agent, history: 200 });
        const oldestFirst = [...t.history].reverse();
        const points = oldestFirst.length ? [{ at: oldestFirst[0]!.at, score: oldestFirst[0]!.oldScore, label: `${oldestFirst[0]!.oldTier}, before` }, ...oldestFirst.map((c) => ({ at: c.at, score: c.newScore, label: `${c.newTier}, ${c.kind}` }))] : [];
        const max = Math.max(1000, ...points.map((p) => p.score));
        body +=
          `<table><tr><th>agent</th><td id="trust-agent">${esc(t.agent)}</td></tr><tr><th>score</th><td id="trust-score">${esc(t.score)}</td></tr><tr><th>tier</th><td id="trust-tier">${esc(t.tier)}</td></tr>` +
          `<tr><th>fresh</th><td>${t.fresh ? 'yes' : 'no'}${t.confirmedAt ? ` (confirmed ${esc(t.confirmedAt)})` : ''}</td></tr><tr><th>updated</th><td>${esc(t.updatedAt || 'initial score')}</td></tr></table>` +
          `<h2>History</h2>${scoreChart(points, max)}` +
          (t.history.length
            ? `<table><thead><tr><th>at</th><th>change</th><th>kind</th><th>weight</th><th>note</th><th>by</th></tr></thead><tbody>${t.history
                .map((c) => `<tr><td>${esc(c.at)}</td><td>${esc(c.oldScore)} (${esc(c.oldTier)}) → ${esc(c.newScore)} (${esc(c.newTier)})</td><td>${esc(c.kind)}</td><td>${esc(c.weight)}</td><td>${esc(c.note)}</td><td>${esc(c.by)}</td></tr>`)
                .join('')}</tbody></table>`
            : '') +
          (!(mayCall(who, 'Operator', 'SetTrust') && mayCall(who, 'Operator', 'ReportSignal'))
            ? ''
            : `<h2>Change (role admin)</h2>` +
          `<form method="post" action="/trust/set" class="inline"><input type="hidden" name="agent" value="${esc(t.agent)}"><label>score <input type="text" name="score" inputmode="numeric" required></label><input type="text" name="reason" required placeholder="reason"><button type="submit">set</button></form>` +
          `<form method="post" action="/trust/signal" class="inline"><input type="hidden" name="agent" value="${esc(t.agent)}"><label>kind <input type="text" name="kind" required></label><label>weight <input type="text" name="weight" placeholder="0: the kind's weight"></label><input type="text" name="detail" required placeholder="what was observed"><button type="submit">signal</button></form>`);
      } catch (err) {
        const m = rpcMessage(err);
        error = error ?? m.text;
        status = status === 200 ? m.status : status;
      }
    }
    return { page: page('Trust', body, who, { ...msg, ...(error ? { error } : {}) }), status };
  };
  app.get<{ Querystring: { agent?: string } }>('/trust', async (req, reply) => {
    const r = await trustPage(String(req.query.agent ?? ''));
    return html(reply, r.page, r.status);
  });
  /**
   * A trust change from the page: the field `problem` found (400), else the
   * RPC's answer as a notice, or the daemon's refusal as it said it.
   */
  const trustChange = async (reply: FastifyReply, agent: string, problem: string | undefined, rpc: 'SetTrust' | 'ReportSignal', request: object) => {
    if (problem) {
      const r = await trustPage(agent, { error: problem }, 400);
      return html(reply, r.page, 400);
    }
    try {
      const t = await call<unknown, TrustState__Output>(operator, rpc, request);
      const r = await trustPage(agent, { notice: `${t.agent}: ${t.score} (${t.tier})${t.leasesRevoked ? `, ${t.leasesRevoked} lease(s) revoked` : ''}` });
      return html(reply, r.page);
    } catch (err) {
      const m = rpcMessage(err);
      const r = await trustPage(agent, { error: m.text }, m.status);
      return html(reply, r.page, m.status);
    }
  };
  app.post<{ Body: Form }>('/trust/set', async (req, reply) => {
    const agent = field(req.body, 'agent');
    const score = field(req.body, 'score');
    const reason = field(req.body, 'reason');
    let problem: string | undefined;
    if (!agent) problem = 'agent: required';
    else if (!/^\d{1,9}$/.test(score)) problem = 'score: expected a whole number';
    else if (!reason) problem = 'reason: required';
    return trustChange(reply, agent, problem, 'SetTrust', { agent, score: Number(score), reason });
  });
  app.post<{ Body: Form }>('/trust/signal', async (req, reply) => {
    const agent = field(req.body, 'agent');
    const kind = field(req.body, 'kind');
    const weight = field(req.body, 'weight') || '0';
    const detail = field(req.body, 'detail');
    let problem: string | undefined;
    if (!agent) problem = 'agent: required';
    else if (!kind) problem = 'kind: required (a kind configured under trust.signals)';
    else if (!/^-?\d{1,9}$/.test(weight)) problem = 'weight: expected a whole number (0: the kind\'s weight)';
    else if (!detail) problem = 'detail: required (what was observed)';
    return trustChange(reply, agent, problem, 'ReportSignal', { agent, kind, weight: Number(weight), detail });
  });

  // ---- Denials (recent decisions with their explanations) --------------------
  app.get<{ Querystring: { agent?: string; action?: string; effect?: string } }>('/denials', async (req, reply) => {
    const agent = String(req.query.agent ?? '');
    const action = String(req.query.action ?? '');
    const effect = req.query.effect === undefined ? 'deny' : String(req.query.effect);
    const who = await whoAmI();
    const opt = (v: string, label: string) => `<option value="${v}"${v === effect ? ' selected' : ''}>${label}</option>`;
    let body = `<form method="get" action="/denials" class="inline"><label>agent <input type="text" name="agent" value="${esc(agent)}"></label><label>action <input type="text" name="action" value="${esc(action)}"></label><label>effect <select name="effect">${opt('deny', 'deny')}${opt('allow_with_obligations', 'allow with obligations')}${opt('allow', 'allow')}${opt('', 'any')}</select></label><button type="submit">filter</button></form>`;
    let error: string | undefined;
    let status = 200;
    try {
      const res = await call<unknown, ListDecisionsResponse__Output>(operator, 'ListDecisions', { agent, action, effect, limit: 100 });
      body += res.decisions.length
        ? `<table><thead><tr><th>entry</th><th>time</th><th>agent</th><th>action</th><th>resource</th><th>effect</th><th>trust</th><th>explanation</th></tr></thead><tbody>${res.decisions
            .map((d) => {
              const expl = d.explanationJson ? safeParse(d.explanationJson) : undefined;
              const summary = typeof expl?.['summary'] === 'string' ? expl['summary'] : '';
              const hint = typeof expl?.['hint'] === 'string' ? expl['hint'] : '';
              // A folded window's closing entry stands for more decisions than itself (DenialFolder).
              const folded = d.foldedCount
                ? `<p class="folded">${d.flood ? '<strong>flood</strong>: ' : ''}×${esc(d.foldedCount)} more ${d.flood ? 'denials of this agent over its evidence budget (different requests)' : 'identical decisions'}, ${esc(d.foldedSince)} to ${esc(d.foldedUntil)}; first <a href="/evidence?index=${esc(d.firstIndex)}">#${esc(d.firstIndex)}</a></p>`
                : '';
              return `<tr class="${esc(d.effect)}" data-index="${esc(d.index)}"><td><a href="/evidence?index=${esc(d.index)}">#${esc(d.index)}</a>${folded}</td><td>${esc(d.time)}</td><td>${esc(d.agent)}</td><td>${esc(d.action)}</td><td>${esc(d.resource)}</td><td class="effect">${esc(d.effect)}</td><td>${esc(d.trustScore)} (${esc(d.trustTier)})</td><td>${summary ? `<p class="summary">${esc(summary)}</p>` : ''}${hint ? `<p class="hint"><strong>hint:</strong> ${esc(hint)}</p>` : ''}${d.explanationJson ? `<details><summary>full explanation</summary><pre class="explanation">${esc(JSON.stringify(expl ?? d.explanationJson, null, 2))}</pre></details>` : ''}<p>policies: ${esc(d.policies.join(', ') || 'none')} (version ${esc(d.policyVersion)})</p></td></tr>`;
            })
            .join('')}</tbody></table><p>${esc(res.decisions.length)} decision(s); ${esc(res.scanned)} log entries read, newest first.</p>`
        : `<p>No matching decisions in the last ${esc(res.scanned)} log entries.</p>`;
    } catch (err) {
      const m = rpcMessage(err);
      error = m.text;
      status = m.status;
    }
    return html(reply, page('Denials', body, who, error ? { error } : {}), status);
  });

  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 0;
  origin = `http://127.0.0.1:${port}`;
  cookieName = sessionCookieName(port);
  return {
    origin,
    cookieName,
    loginUrl: `${origin}/login?token=${loginToken}`,
    close: () => app.close(),
  };
}

function safeParse(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function prettyJson(bytes: Buffer): string {
  try {
    return JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2);
  } catch {
    return bytes.toString('utf8');
  }
}

/** Everything an approver must see; agent-supplied text (params, purpose, resource) only as escaped text. */
function approvalsTable(approvals: readonly Approval__Output[]): string {
  const rows = approvals.map((a) => {
    const params = JSON.stringify(structToJson(a.params) ?? {}, null, 1);
    const trust = a.trust ? `${a.trust.score} (${a.trust.tier})${a.trustFresh ? ', fresh' : ''}` : '—';
    const progress = a.progress.map((p) => `${p.group} ${p.approvals}/${p.required}`).join(', ');
    const form = (verb: 'approve' | 'deny') =>
      `<form method="post" action="/approvals/${encodeURIComponent(a.approvalId)}/decide" class="inline"><input type="hidden" name="decision" value="${verb}"><input type="text" name="reason" required placeholder="reason" aria-label="reason to ${verb}"><button type="submit" name="do" value="${verb}">${verb}</button></form>`;
    return `<tr data-approval="${esc(a.approvalId)}"><td><code>${esc(a.approvalId)}</code><br>${esc(progress)}</td><td>${esc(a.agent)}</td><td>${esc(a.owner || '—')}</td><td>${esc(a.action)}</td><td>${esc(a.resource)}</td><td><pre class="params">${esc(params)}</pre></td><td class="purpose">${esc(a.purpose)}</td><td>${esc(trust)}</td><td>${esc(a.rule || '—')}</td><td>${esc(timeLeft(a.secondsLeft))}</td><td>${form('approve')}${form('deny')}</td></tr>`;
  });
  return `<p>The agent's owner may not decide its requests (four eyes); the daemon refuses them.</p><table><thead><tr><th>approval</th><th>agent</th><th>owner</th><th>action</th><th>resource</th><th>params</th><th>purpose</th><th>trust</th><th>rule that asked</th><th>time left</th><th>decide</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
