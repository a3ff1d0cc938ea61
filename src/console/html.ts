/** Server-rendered HTML for the console: every value goes through esc(); nothing loads from the network. */

import { esc } from '../lib/html-escape';
import { ACCESS } from '../transport/grpc/access';

export const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#20232a;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#9cdcfe;text-decoration:none}header .who{margin-left:auto;color:#ccc}
main{padding:16px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:8px;margin-bottom:12px}
.notice{background:#e8f5e9;border:1px solid #a5d6a7;padding:8px;margin-bottom:12px}
.cut{background:#fff8e1;border:1px solid #ffe082;padding:8px;margin:8px 0}
.verdict{font-weight:bold;padding:2px 6px}.verdict.ok{color:#1b5e20;background:#e8f5e9}.verdict.bad{color:#b71c1c;background:#fde8e8}
form.inline{display:flex;gap:4px;margin:2px 0}input[type=text]{min-width:12em}
svg.chart{background:#fff;border:1px solid #ddd}svg.chart .line{fill:none;stroke:#1565c0;stroke-width:2}
svg.chart .pt{fill:#1565c0}svg.chart .axis{stroke:#999}svg.chart text{font-size:10px;fill:#555}
tr.deny td.effect{color:#b71c1c;font-weight:bold}tr.allow td.effect{color:#1b5e20}`;

/**
 * An inline SVG line chart of a score over time (oldest left). Pure markup:
 * allowed by the CSP (nothing is loaded), every label escaped.
 */
export function scoreChart(points: ReadonlyArray<{ at: string; score: number; label: string }>, max: number): string {
  const w = 640;
  const h = 200;
  const pad = 30;
  if (points.length === 0) return '<p>No trust changes recorded.</p>';
  const x = (i: number) => pad + (points.length === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (points.length - 1));
  const y = (v: number) => h - pad - (Math.max(0, Math.min(v, max)) * (h - 2 * pad)) / max;
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
  const dots = points.map((p, i) => `<circle class="pt" cx="${x(i).toFixed(1)}" cy="${y(p.score).toFixed(1)}" r="3"><title>${esc(`${p.at}: ${p.score} (${p.label})`)}</title></circle>`).join('');
  return `<svg class="chart" role="img" aria-label="trust score history" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" xmlns="http://www.w3.org/2000/svg">
<line class="axis" x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}"/><line class="axis" x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}"/>
<text x="2" y="${pad + 4}">${max}</text><text x="2" y="${h - pad}">0</text>
<text x="${pad}" y="${h - 8}">${esc(points[0]!.at)}</text><text x="${w - pad}" y="${h - 8}" text-anchor="end">${esc(points[points.length - 1]!.at)}</text>
<path class="line" d="${path}"/>${dots}</svg>`;
}

/** Each page, and the roles of which any one lets the daemon answer it (empty: any operator). */
/** The pages, each with the RPC its listing calls: the nav offers a page to the roles the daemon's access table gives that RPC. */
const PAGES: ReadonlyArray<readonly [string, string, readonly [string, string]]> = Object.freeze([
  ['/approvals', 'Approvals', ['Operator', 'ListApprovals']],
  ['/evidence', 'Evidence', ['Evidence', 'GetEntry']],
  ['/leases', 'Leases', ['Operator', 'ListLeases']],
  ['/trust', 'Trust', ['Operator', 'GetTrust']],
  ['/denials', 'Denials', ['Operator', 'ListDecisions']],
] as const);

/**
 * Whether the console offers `who` what `service.method` does, by the daemon's
 * own access table (one table, not a copy): an operator needs one of the
 * RPC's roles. When the daemon could not say who the caller is, everything is
 * offered: the daemon enforces the roles on every call anyway.
 */
export function mayCall(who: Who | undefined, service: string, method: string): boolean {
  const access = ACCESS[service]?.[method];
  if (!access) throw new Error(`the access table has no rule for ${service}.${method}`);
  if (!who || access.who === 'any') return true;
  if (access.who !== 'operator') return false;
  const roles: readonly string[] = typeof access.role === 'string' ? [access.role] : access.role;
  return roles.some((r) => who.roles.includes(r));
}

/** The caller as the daemon sees it (WhoAmI); undefined when the daemon could not say. */
export interface Who {
  name: string;
  roles: readonly string[];
}

/** The page frame: title, navigation, an optional error or notice, the body. */
export function layout(title: string, body: string, opts: { error?: string; notice?: string; script?: boolean; who?: Who } = {}): string {
  // The page offers what the caller's roles allow; the daemon enforces them anyway.
  const who = opts.who;
  const nav = PAGES.filter(([, , [service, method]]) => mayCall(who, service, method))
    .map(([href, name]) => `<a href="${href}">${esc(name)}</a>`)
    .join('');
  const me = who ? `<span class="who">${esc(who.name)} (${esc(who.roles.join(', ') || 'no roles')})</span>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · secret-broker console</title>
<link rel="stylesheet" href="/style.css">${opts.script ? '<script src="/verify.js"></script>' : ''}</head>
<body><header><strong>secret-broker</strong>${nav}${me}</header><main><h1>${esc(title)}</h1>
${opts.error ? `<div class="error" role="alert">${esc(opts.error)}</div>` : ''}${opts.notice ? `<div class="notice">${esc(opts.notice)}</div>` : ''}
${body}</main></body></html>`;
}

/**
 * The "uses left" cell of the Leases page. A database lease's uses are not counted (the agent holds a
 * credential and connects itself; the lease ends by revocation or expiry), so "1/1" would mislead.
 */
export function usesCell(l: { usesLeft: number | string; maxUses: number | string; dynamicCredential?: boolean }): string {
  return l.dynamicCredential ? '<span title="a database credential: it ends by revocation or expiry">not counted</span>' : `${esc(l.usesLeft)}/${esc(l.maxUses)}`;
}
