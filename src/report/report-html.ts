import { esc } from '../lib/html-escape';
import type { Quantiles, Report } from './report-measures';

/** Nothing loads from anywhere: no scripts, no fetches, no images; styles only from the inline block. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

interface Bar {
  label: string;
  value: number;
  /** One of the palette classes below. */
  tone?: 'a' | 'b' | 'c' | 'd';
}

/** A horizontal bar chart as inline SVG (one <rect> per bar), scaled to the largest value. */
export function barChart(title: string, bars: readonly Bar[], unit = ''): string {
  const rowH = 22;
  const labelW = 260;
  const plotW = 360;
  const height = Math.max(1, bars.length) * rowH + 28;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars.map((b, i) => {
    const y = 24 + i * rowH;
    const w = Math.round((b.value / max) * plotW);
    return (
      `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(short(b.label))}</text>` +
      `<rect class="bar ${b.tone ?? 'a'}" x="${labelW}" y="${y + 2}" width="${w}" height="${rowH - 6}"><title>${esc(`${b.label}: ${fmt(b.value)}${unit}`)}</title></rect>` +
      `<text x="${labelW + w + 6}" y="${y + 14}">${esc(fmt(b.value) + unit)}</text>`
    );
  });
  const empty = bars.length === 0 ? `<text x="${labelW}" y="38">nothing in the window</text>` : '';
  return `<svg class="chart" role="img" aria-label="${esc(title)}" width="${labelW + plotW + 80}" height="${height}" viewBox="0 0 ${labelW + plotW + 80} ${height}"><text class="title" x="0" y="14">${esc(title)}</text>${rows.join('')}${empty}</svg>`;
}

/** A label that fits its column (the bar's tooltip has it whole). */
function short(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

const pct = (x: number | null): string => (x === null ? 'n/a (no denials)' : `${(x * 100).toFixed(1)} %`);
const secs = (q: Quantiles): string => (q.count === 0 ? 'n/a' : `p50 ${fmt(q.p50!)} s, p90 ${fmt(q.p90!)} s (${q.count})`);

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return '<p class="none">none in the window</p>';
  return `<table><thead><tr>${head.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The report as one self-contained HTML page: inline CSS and SVG, a CSP that forbids every load. */
export function renderHtml(r: Report): string {
  const c = r.policy_coverage;
  const s = r.scope_reduction;
  const t = r.trust_gating;
  const a = r.manual_override.approvals;
  const b = r.manual_override.breakglass;
  const x = r.explainability;
  const sections = [
    `<section id="coverage"><h2>1. Policy coverage</h2>
<p>${c.actions.length - c.actions_unpermitted} of ${c.actions.length} configured actions can be permitted by some rule. ${c.decisions} decisions in the window.
${c.all_decided ? `<strong class="ok">Every grant (${c.leases_issued}) and use (${c.invokes}) in the window passed the decision point.</strong>` : `<strong class="bad">${c.leases_issued - c.leases_with_decision + c.invokes - c.invokes_with_lease} grants or uses without a decision before them (log indexes ${esc(c.unproven.join(', '))}).</strong>`}</p>
${barChart('Decisions by effect', Object.entries(c.by_effect).map(([k, v]) => ({ label: k, value: v, tone: k === 'deny' ? 'd' : 'a' })))}
${table(['action', 'a rule can permit it', 'finding'], c.actions.map((row) => [row.action, row.permitted ? 'yes' : 'NO', row.finding ?? '']))}</section>`,
    `<section id="scope"><h2>2. Scope grant reduction</h2>
<p>${s.over_granted} over-granted agent${s.over_granted === 1 ? '' : 's'} (permitted actions they did not invoke).</p>
${barChart('Uses granted vs spent, per agent', s.agents.flatMap((g) => [{ label: `${g.agent} granted`, value: g.uses_granted, tone: 'b' as const }, { label: `${g.agent} spent`, value: g.uses_spent, tone: 'a' as const }]))}
${table(['agent', 'week of', 'leases', 'uses granted', 'uses spent', 'actions invoked'], s.agents.flatMap((g) => g.weeks.map((w) => [g.agent, w.week, String(w.leases), String(w.uses_granted), String(w.uses_spent), w.actions_invoked.join(', ')])))}
${table(['agent', 'actions permitted', 'actions invoked', 'over-granted'], s.agents.map((g) => [g.agent, g.actions_permitted.join(', '), g.actions_invoked.join(', '), g.over_granted ? 'yes' : 'no']))}
${s.agents.filter((g) => g.suggested_permit).map((g) => `<h3>Suggested permit for ${esc(g.agent)}</h3><pre>${esc(g.suggested_permit!)}</pre>`).join('\n')}</section>`,
    `<section id="trust"><h2>3. Trust-aware gating</h2>
<p>${t.drops} trust drop${t.drops === 1 ? '' : 's'} revoked ${t.leases_revoked} lease${t.leases_revoked === 1 ? '' : 's'}; time from signal to revocation: ${secs(t.time_to_revoke_seconds)}.</p>
${barChart('Leases revoked per trust drop', t.rows.map((d) => ({ label: `#${d.index} ${d.agent} ${d.from.tier}→${d.to.tier}`, value: d.leases_revoked, tone: 'c' })))}
${table(['entry', 'time', 'agent', 'from', 'to', 'by', 'leases revoked', 'seconds to revoke'], t.rows.map((d) => [`#${d.index}`, d.time, d.agent, `${d.from.score} ${d.from.tier}`, `${d.to.score} ${d.to.tier}`, d.by, String(d.leases_revoked), d.revocation_seconds === null ? '' : fmt(d.revocation_seconds)]))}</section>`,
    `<section id="override"><h2>4. Manual override clarity</h2>
<p>Approvals: ${a.requested} requested, ${a.approved} approved, ${a.rejected} rejected, ${a.expired} expired; time to decide ${secs(a.time_to_decide_seconds)}.
Break-glass: ${b.overrides} override${b.overrides === 1 ? '' : 's'}, ${b.uses} lease${b.uses === 1 ? '' : 's'} granted under them, ${b.unreviewed} not yet reviewed.</p>
${barChart('Approvals', [{ label: 'requested', value: a.requested, tone: 'b' }, { label: 'approved', value: a.approved }, { label: 'rejected', value: a.rejected, tone: 'd' }, { label: 'expired', value: a.expired, tone: 'c' }])}
${table(['override', 'agent', 'action', 'asked by', 'reason', 'confirmed by', 'state', 'uses', 'review'], b.rows.map((o) => [o.id, o.agent, o.action, o.requested_by, o.reason, o.confirmed_by, o.state, String(o.uses), o.reviewed ? `reviewed by ${o.reviewed_by ?? '?'}` : 'NOT REVIEWED']))}</section>`,
    `<section id="explainability"><h2>5. Denied-action explainability</h2>
<p>${x.explained} of ${x.denials} denials carry a deciding rule or candidate and a hint: <strong class="${x.share === null || x.share >= x.target ? 'ok' : 'bad'}">${pct(x.share)}</strong> (target ${x.target * 100} %).</p>
${barChart('Most frequent reasons for denial', x.top_reasons.map((q) => ({ label: q.reason, value: q.count, tone: 'd' })))}</section>`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<meta name="referrer" content="no-referrer">
<title>secret-broker report ${esc(r.window.since.slice(0, 10))} to ${esc(r.window.until.slice(0, 10))}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#1d2330}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ccd;padding:.25em .6em;text-align:left;vertical-align:top}
pre{background:#f4f5f8;padding:.8em;overflow:auto}.ok{color:#17692b}.bad{color:#a3161a}.none{color:#667}
svg.chart{display:block;margin:.8em 0;font-size:12px}svg.chart .title{font-weight:600}
.bar.a{fill:#3b6fd4}.bar.b{fill:#9db7ea}.bar.c{fill:#d98b1f}.bar.d{fill:#c8453c}
</style></head>
<body>
<h1>secret-broker report</h1>
<p>Window ${esc(r.window.since)} to ${esc(r.window.until)}; ${r.window.entries_read} log entries read; policy ${esc(r.policy_version.slice(0, 12))}.</p>
${sections.join('\n')}
</body></html>
`;
}
