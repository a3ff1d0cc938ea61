import { strict as assert } from 'node:assert';
import { agentPathProblem, matchPath, parsePathTemplate, renderPath, type PathTemplate } from '../../../src/brokered-http/path-template';

const tpl = (s: string): PathTemplate => {
  const t = parsePathTemplate(s);
  assert.ok(typeof t !== 'string', `${s}: ${String(t)}`);
  return t;
};

describe('brokered-http path templates', () => {
  it('parses literal and parameter segments', () => {
    const t = tpl('/v1/tickets/{id}/comments/{comment_id}/');
    assert.deepEqual(t.params, ['id', 'comment_id']);
    assert.equal(t.trailingSlash, true);
    assert.equal(tpl('/').segments.length, 0);
  });

  it('refuses bad templates', () => {
    for (const bad of ['tickets', '/a//b', '/a/{ID}', '/a/{id}/{id}', '/a/{id}x', '/../a', '/a/.', '/a b', '/a%2f']) {
      assert.equal(typeof parsePathTemplate(bad), 'string', bad);
    }
  });

  it('refuses every path trick before matching', () => {
    const bad: Array<[string, RegExp]> = [
      ['/tickets/..', /"\." or "\.\."/],
      ['/tickets/./T-1', /"\." or "\.\."/],
      ['/tickets/%2e%2e', /percent/],
      ['/tickets/a%2Fb', /percent/],
      ['/tickets/%00', /percent/],
      ['https://evil.test/tickets/1', /absolute URL/],
      ['//evil.test/tickets/1', /absolute URL/],
      ['javascript:alert(1)', /absolute URL/],
      ['tickets/1', /start with/],
      ['/tickets\\..\\admin', /backslash/],
      ['/tickets/1\r\nHost: x', /CR, LF or NUL/],
      ['/tickets/1\0', /CR, LF or NUL/],
      ['/tickets/1?x=1', /query/],
      ['/tickets/1#frag', /query or fragment/],
      ['/tickets//1', /empty segments/],
      ['/tickets/ü', /segments must match/],
      ['/tickets/a b', /segments must match/],
      ['/tickets/a;b', /segments must match/],
      ['/' + 'a'.repeat(3000), /at most 2048/],
    ];
    for (const [path, why] of bad) assert.match(agentPathProblem(path) ?? 'accepted', why, JSON.stringify(path));
    for (const ok of ['/', '/tickets/T-1', '/tickets/T-1/', '/a/b.c~d_e-f', '/tickets/...']) assert.equal(agentPathProblem(ok), undefined, ok);
  });

  it('matches one segment per parameter and prefers the more literal template', () => {
    const ts = [tpl('/tickets/{id}'), tpl('/tickets/search'), tpl('/tickets/{id}/comments')];
    assert.deepEqual(matchPath(ts, '/tickets/T-1')?.params, { id: 'T-1' });
    assert.equal(matchPath(ts, '/tickets/search')?.template.source, '/tickets/search');
    assert.deepEqual(matchPath(ts, '/tickets/T-1/comments')?.params, { id: 'T-1' });
    assert.equal(matchPath(ts, '/tickets/T-1/other'), undefined);
    assert.equal(matchPath(ts, '/tickets/T-1/'), undefined, 'trailing slash must match the template');
    assert.equal(matchPath(ts, '/tickets'), undefined);
  });

  it('renders the concrete path', () => {
    const t = tpl('/tickets/{id}/');
    assert.equal(renderPath(t, { id: 'T-1' }), '/tickets/T-1/');
    assert.equal(renderPath(tpl('/'), {}), '/');
  });
});
