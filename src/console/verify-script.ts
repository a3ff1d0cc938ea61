/**
 * The one script the console serves (/verify.js, allowed by its CSP as
 * script-src 'self'). It verifies an evidence entry's RFC 6962 inclusion proof
 * IN THE BROWSER with WebCrypto SHA-256: leaf hash SHA-256(0x00 || entry),
 * node hash SHA-256(0x01 || left || right), RFC 9162 §2.1.3.2 walk, against the
 * checkpoint root. It reads the data-* attributes of #proof and writes
 * "verified" or "failed" into #verdict. It trusts nothing the server said
 * about the outcome: the server only hands over the bytes.
 */
export const VERIFY_SCRIPT = `'use strict';
(function () {
  function b64(s) { var b = atob(s); var u = new Uint8Array(b.length); for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return u; }
  function cat(a, b, c) { var out = new Uint8Array(a.length + b.length + (c ? c.length : 0)); out.set(a, 0); out.set(b, a.length); if (c) out.set(c, a.length + b.length); return out; }
  async function sha(u) { return new Uint8Array(await crypto.subtle.digest('SHA-256', u)); }
  function same(a, b) { if (a.length !== b.length) return false; var d = 0; for (var i = 0; i < a.length; i++) d |= a[i] ^ b[i]; return d === 0; }
  async function verify(el) {
    var index = Number(el.dataset.index), size = Number(el.dataset.size);
    var entry = b64(el.dataset.entry), root = b64(el.dataset.root);
    var proof = el.dataset.proof ? el.dataset.proof.split(' ').map(b64) : [];
    if (!(index >= 0) || !(size > index)) return false;
    var r = await sha(cat(new Uint8Array([0]), entry));
    var fn = index, sn = size - 1;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) return false;
      if ((fn & 1) === 1 || fn === sn) {
        r = await sha(cat(new Uint8Array([1]), proof[i], r));
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await sha(cat(new Uint8Array([1]), r, proof[i]));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(r, root);
  }
  async function run() {
    var el = document.getElementById('proof'), out = document.getElementById('verdict');
    if (!el || !out) return;
    out.textContent = 'verifying…';
    out.className = 'verdict';
    var ok = false;
    try { ok = await verify(el); } catch (e) { ok = false; }
    out.textContent = ok ? 'verified' : 'failed';
    out.className = 'verdict ' + (ok ? 'ok' : 'bad');
  }
  document.addEventListener('DOMContentLoaded', function () {
    run();
    var again = document.getElementById('verify-again');
    if (again) again.addEventListener('click', run);
  });
})();
`;
