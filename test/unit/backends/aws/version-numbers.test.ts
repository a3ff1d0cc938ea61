import { strict as assert } from 'node:assert';
import { findNumber, nextNumber, numberInVersionId, numberVersions, versionToken } from '../../../../src/backends/aws/version-numbers';

const uuid = (i: number): string => `0000000${i}-1111-2222-3333-444444444444`;

describe('aws backend: integer versions over AWS VersionIds', () => {
  it('a broker token is a valid ClientRequestToken (32 to 64 characters) that carries its number', () => {
    for (const n of [1, 9, 10, 12345, 999_999_999_999_999]) {
      const t = versionToken(n);
      assert.ok(t.length >= 32 && t.length <= 64, t);
      assert.equal(numberInVersionId(t), n);
    }
    assert.notEqual(versionToken(1), versionToken(1));
    for (const other of [uuid(1), 'sb-v0-' + 'a'.repeat(32), 'sb-v01-' + 'a'.repeat(32), 'sb-v1-' + 'A'.repeat(32), 'sb-v1-abc', undefined]) {
      assert.equal(numberInVersionId(other), undefined, String(other));
    }
  });

  it('versions written elsewhere are numbered by creation time, one above the version before', () => {
    const got = numberVersions([
      { versionId: uuid(3), stages: ['AWSCURRENT'], createdAt: 3000 },
      { versionId: uuid(1), stages: [], createdAt: 1000 },
      { versionId: uuid(2), stages: ['AWSPREVIOUS'], createdAt: 2000 },
    ]);
    assert.deepEqual(got.map((v) => [v.versionId, v.version]), [[uuid(1), 1], [uuid(2), 2], [uuid(3), 3]]);
  });

  it('same instant (moto lists every version with the listing time): AWS labels order them, then listing order', () => {
    const t = 5000;
    const got = numberVersions([
      { versionId: uuid(3), stages: ['AWSCURRENT'], createdAt: t },
      { versionId: uuid(4), stages: ['AWSPENDING'], createdAt: t },
      { versionId: uuid(2), stages: ['AWSPREVIOUS'], createdAt: t },
      { versionId: uuid(0), stages: [], createdAt: t },
      { versionId: uuid(1), stages: [], createdAt: t },
    ]);
    assert.deepEqual(got.map((v) => v.versionId), [uuid(0), uuid(1), uuid(2), uuid(3), uuid(4)]);
    assert.deepEqual(got.map((v) => v.version), [1, 2, 3, 4, 5]);
  });

  it('broker numbers are kept as written, and versions written elsewhere continue from them', () => {
    const b5 = 'sb-v5-' + 'a'.repeat(32);
    const got = numberVersions([
      { versionId: b5, stages: ['AWSPREVIOUS'], createdAt: 1000 },
      { versionId: uuid(1), stages: ['AWSCURRENT'], createdAt: 2000 },
    ]);
    assert.deepEqual(got.map((v) => v.version), [5, 6]);
    assert.equal(nextNumber(got), 7);
    assert.equal(nextNumber([]), 1);
  });

  it('when two writers raced to the same number, the later version holds it', () => {
    const a = 'sb-v2-' + 'a'.repeat(32);
    const b = 'sb-v2-' + 'b'.repeat(32);
    const got = numberVersions([
      { versionId: uuid(1), stages: [], createdAt: 1000 },
      { versionId: b, stages: ['AWSCURRENT'], createdAt: 3000 },
      { versionId: a, stages: ['AWSPREVIOUS'], createdAt: 2000 },
    ]);
    assert.equal(findNumber(got, 2)!.versionId, b);
    assert.equal(findNumber(got, 3), undefined);
    assert.equal(nextNumber(got), 3);
  });
});
