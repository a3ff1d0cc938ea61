/** Server-rendered HTML for the console: every value goes through esc(); nothing loads from the network. */

const ESCAPES: Readonly<Record<string, string>> = Object.freeze({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' });

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#20232a;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#9cdcfe;text-decoration:none}header .who{margin-left:auto;color:#ccc}
main{padding:16px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:8px;margin-bottom:12px}
.notice{background:#e8f5e9;border:1px solid #a5d6a7;padding:8px;margin-bottom:12px}
.verdict{font-weight:bold;padding:2px 6px}.verdict.ok{color:#1b5e20;background:#e8f5e9}.verdict.bad{color:#b71c1c;background:#fde8e8}
form.inline{display:flex;gap:4px;margin:2px 0}input[type=text]{min-width:12em}`;

export const PAGES: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ['/approvals', 'Approvals'],
  ['/evidence', 'Evidence'],
  ['/leases', 'Leases'],
]);

/** The page frame: title, navigation, an optional error or notice, the body. */
export function layout(title: string, body: string, opts: { error?: string; notice?: string; script?: boolean } = {}): string {
  const nav = PAGES.map(([href, name]) => `<a href="${href}">${esc(name)}</a>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · secret-broker console</title>
<link rel="stylesheet" href="/style.css">${opts.script ? '<script src="/verify.js"></script>' : ''}</head>
<body><header><strong>secret-broker</strong>${nav}</header><main><h1>${esc(title)}</h1>
${opts.error ? `<div class="error" role="alert">${esc(opts.error)}</div>` : ''}${opts.notice ? `<div class="notice">${esc(opts.notice)}</div>` : ''}
${body}</main></body></html>`;
}
