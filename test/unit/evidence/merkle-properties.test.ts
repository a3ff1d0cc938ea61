import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InMemoryTreeNodes } from '../../../src/evidence/in-memory-tree-nodes';
import {
  consistencyProof,
  hashChildren,
  hashLeaf,
  inclusionProof,
  nodesToStoreOnAppend,
  rootAt,
  verifyConsistency,
  verifyInclusion,
  type NodeKey,
  type TreeNodeReader,
} from '../../../src/evidence/merkle';
import { refConsistency, refLeaf, refPath, refRoot } from './reference-merkle';

const leafData = (i: number): Buffer => Buffer.from(`entry-${i}`);

async function buildStore(n: number): Promise<{ store: InMemoryTreeNodes; leaves: Buffer[] }> {
  const store = new InMemoryTreeNodes();
  const leaves: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    leaves.push(hashLeaf(leafData(i)));
    await store.append(leaves[i]!);
  }
  return { store, leaves };
}

/** Copies of `hashes` each with one bit flipped; all 256 bits or `perHash` spread ones. */
function* bitFlips(hashes: readonly Buffer[], perHash: number | 'all'): Generator<{ at: number; mutated: Buffer[] }> {
  for (let at = 0; at < hashes.length; at++) {
    const bits = perHash === 'all' ? 256 : perHash;
    for (let k = 0; k < bits; k++) {
      // Spread the chosen bits over all bytes and bit positions.
      const bit = perHash === 'all' ? k : (k * 37 + at * 11) % 256;
      const mutated = hashes.map((h) => Buffer.from(h));
      mutated[at]![bit >> 3]! ^= 1 << (bit & 7);
      yield { at, mutated };
    }
  }
}

function rejects(run: () => boolean): boolean {
  try {
    return !run();
  } catch {
    return true;
  }
}

/** Wraps a reader and records every batch it is asked for. */
class CountingReader implements TreeNodeReader {
  readonly calls: number[] = [];
  constructor(private readonly inner: TreeNodeReader) {}
  getNodes(keys: readonly NodeKey[]): Promise<Buffer[]> {
    this.calls.push(keys.length);
    return this.inner.getNodes(keys);
  }
  reset(): void {
    this.calls.length = 0;
  }
}

describe('evidence/merkle properties', function () {
  this.timeout(120_000);
  const MAX = 64;
  // Every bit of every hash for small trees, where every shape of proof already occurs; 8 bits per hash above.
  const flipsFor = (n: number): number | 'all' => (n <= 8 ? 'all' : 8);

  let store: InMemoryTreeNodes;
  let leaves: Buffer[];
  before(async () => {
    ({ store, leaves } = await buildStore(MAX));
  });

  it('stores exactly the complete subtrees: 2n - popcount(n) nodes', async () => {
    for (let n = 1; n <= 40; n++) {
      const s = (await buildStore(n)).store;
      const popcount = n.toString(2).replace(/0/g, '').length;
      assert.equal(s.nodeCount, 2 * n - popcount, `n=${n}`);
    }
  });

  it('rootAt matches the RFC 6962 definition for every size 0..64', async () => {
    for (let n = 0; n <= MAX; n++) {
      assert.deepEqual(await rootAt(n, store), refRoot(leaves.slice(0, n)), `size ${n}`);
    }
  });

  it('for sizes 1..64 every inclusion proof equals PATH(m, D[n]), verifies, and any flipped bit fails', async () => {
    for (let n = 1; n <= MAX; n++) {
      const root = await rootAt(n, store);
      for (let m = 0; m < n; m++) {
        const proof = await inclusionProof(m, n, store);
        assert.deepEqual(proof, refPath(m, leaves.slice(0, n)), `PATH(${m}, D[${n}])`);
        assert.equal(verifyInclusion(leaves[m]!, m, n, proof, root), true, `verify ${m} in ${n}`);
        for (const { at, mutated } of bitFlips(proof, flipsFor(n))) {
          assert.ok(rejects(() => verifyInclusion(leaves[m]!, m, n, mutated, root)), `flip proof[${at}] of ${m} in ${n}`);
        }
        for (const { mutated } of bitFlips([root], flipsFor(n))) {
          assert.ok(rejects(() => verifyInclusion(leaves[m]!, m, n, proof, mutated[0]!)), `flip root of ${m} in ${n}`);
        }
        for (const { mutated } of bitFlips([leaves[m]!], 8)) {
          assert.ok(rejects(() => verifyInclusion(mutated[0]!, m, n, proof, root)), `flip leaf ${m} in ${n}`);
        }
        if (n > 1) {
          assert.ok(rejects(() => verifyInclusion(leaves[m]!, (m + 1) % n, n, proof, root)), `wrong index for ${m} in ${n}`);
        }
      }
    }
  });

  it('for sizes 1..64 every consistency proof equals PROOF(m, D[n]), verifies, and any flipped bit fails', async () => {
    for (let n = 1; n <= MAX; n++) {
      const root2 = await rootAt(n, store);
      for (let m = 1; m <= n; m++) {
        const root1 = await rootAt(m, store);
        const proof = await consistencyProof(m, n, store);
        assert.deepEqual(proof, refConsistency(m, leaves.slice(0, n)), `PROOF(${m}, D[${n}])`);
        assert.equal(verifyConsistency(m, n, proof, root1, root2), true, `verify ${m} -> ${n}`);
        for (const { at, mutated } of bitFlips(proof, flipsFor(n))) {
          assert.ok(rejects(() => verifyConsistency(m, n, mutated, root1, root2)), `flip proof[${at}] of ${m} -> ${n}`);
        }
        for (const { mutated } of bitFlips([root1], flipsFor(n))) {
          assert.ok(rejects(() => verifyConsistency(m, n, proof, mutated[0]!, root2)), `flip root1 of ${m} -> ${n}`);
        }
        for (const { mutated } of bitFlips([root2], flipsFor(n))) {
          assert.ok(rejects(() => verifyConsistency(m, n, proof, root1, mutated[0]!)), `flip root2 of ${m} -> ${n}`);
        }
      }
    }
  });

  it('rejects proofs between trees that differ in one old leaf (a fork)', async () => {
    const forked = new InMemoryTreeNodes();
    for (let i = 0; i < 20; i++) await forked.append(i === 5 ? hashLeaf(Buffer.from('forged')) : leaves[i]!);
    for (let m = 6; m < 20; m++) {
      const proof = await consistencyProof(m, 20, forked);
      assert.equal(verifyConsistency(m, 20, proof, await rootAt(m, store), await rootAt(20, forked)), false, `m=${m}`);
    }
  });

  it('leaf hashing matches RFC 6962 on random data (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (d) => hashLeaf(d).equals(refLeaf(d))),
    );
  });

  it('random inclusion and consistency proofs in a 1000-leaf store verify (fast-check)', async () => {
    const big = await buildStore(1000);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), fc.nat(), async (a, b, r) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const index = r % n;
        const root1 = await rootAt(m, big.store);
        const root2 = await rootAt(n, big.store);
        return (
          verifyInclusion(big.leaves[index]!, index, n, await inclusionProof(index, n, big.store), root2) &&
          verifyConsistency(m, n, await consistencyProof(m, n, big.store), root1, root2)
        );
      }),
      { numRuns: 300 },
    );
  });

  describe('sizes beyond 2^32 (uniform tree, hashes computed per level)', () => {
    // With every leaf equal, a complete node's hash depends only on its level, so
    // proofs for astronomically large trees can be generated and checked cheaply.
    const levelHash: Buffer[] = [hashLeaf(Buffer.from('same'))];
    for (let l = 1; l <= 53; l++) levelHash.push(hashChildren(levelHash[l - 1]!, levelHash[l - 1]!));
    const uniform: TreeNodeReader = { getNodes: async (keys) => keys.map((k) => levelHash[k.level]!) };

    it('inclusion and consistency proofs verify with sizes up to 2^53-1 (fast-check)', async () => {
      const size = fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 32 + 1));
      await fc.assert(
        fc.asyncProperty(size, size, fc.double({ min: 0, max: 1, noNaN: true }), async (a, b, f) => {
          const [m, n] = a <= b ? [a, b] : [b, a];
          const index = Math.min(n - 1, Math.floor(f * n));
          const root1 = await rootAt(m, uniform);
          const root2 = await rootAt(n, uniform);
          const incl = await inclusionProof(index, n, uniform);
          const cons = await consistencyProof(m, n, uniform);
          const okIncl = verifyInclusion(levelHash[0]!, index, n, incl, root2);
          const okCons = verifyConsistency(m, n, cons, root1, root2);
          // (No wrong-size check here: with identical leaves, RFC 6962 trees of
          // different sizes can share hashes, so such a check proves nothing.)
          return okIncl && okCons;
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('reads are O(log n) at n = 10000', () => {
    const N = 10_000;
    const LOG = Math.ceil(Math.log2(N)); // 14
    let counting: CountingReader;
    let big: Awaited<ReturnType<typeof buildStore>>;
    before(async () => {
      big = await buildStore(N);
      counting = new CountingReader(big.store);
    });

    it('appending a leaf reads at most log2(n) nodes in at most one batch', async () => {
      const s = new InMemoryTreeNodes();
      const c = new CountingReader(s);
      for (let i = 0; i < 4096; i++) {
        c.reset();
        s.put(await nodesToStoreOnAppend(i, big.leaves[i]!, c));
        assert.ok(c.calls.length <= 1 && (c.calls[0] ?? 0) <= LOG, `append ${i}: ${JSON.stringify(c.calls)}`);
      }
    });

    it('rootAt reads one batch of at most log2(n)+1 nodes', async () => {
      for (const n of [1, 2, 3, 4097, 8191, 9999, N]) {
        counting.reset();
        await rootAt(n, counting);
        assert.deepEqual(counting.calls.length, 1);
        assert.ok(counting.calls[0]! <= LOG + 1, `rootAt(${n}) read ${counting.calls[0]}`);
      }
    });

    it('every inclusion proof reads one batch of at most 2·log2(n) nodes', async () => {
      let worst = 0;
      for (let i = 0; i < N; i++) {
        counting.reset();
        const proof = await inclusionProof(i, N, counting);
        assert.equal(counting.calls.length, 1);
        worst = Math.max(worst, counting.calls[0]!);
        if (i % 997 === 0) assert.ok(verifyInclusion(big.leaves[i]!, i, N, proof, await rootAt(N, big.store)));
      }
      assert.ok(worst <= 2 * LOG, `worst inclusion read ${worst}`);
    });

    it('every consistency proof to n reads one batch of at most 2·log2(n)+1 nodes', async () => {
      let worst = 0;
      for (let m = 1; m < N; m++) {
        counting.reset();
        await consistencyProof(m, N, counting);
        assert.equal(counting.calls.length, 1);
        worst = Math.max(worst, counting.calls[0]!);
      }
      assert.ok(worst <= 2 * LOG + 1, `worst consistency read ${worst}`);
    });
  });

  describe('argument and store errors', () => {
    it('refuses out-of-range requests with typed errors', async () => {
      await assert.rejects(inclusionProof(5, 5, store), { code: 'EVIDENCE_MERKLE_ARGUMENT', reason: 'index-out-of-range' });
      await assert.rejects(consistencyProof(0, 5, store), { code: 'EVIDENCE_MERKLE_ARGUMENT', reason: 'size1-zero' });
      await assert.rejects(consistencyProof(6, 5, store), { code: 'EVIDENCE_MERKLE_ARGUMENT', reason: 'size2-below-size1' });
      await assert.rejects(rootAt(-1, store), { code: 'EVIDENCE_MERKLE_ARGUMENT' });
      await assert.rejects(rootAt(1.5, store), { code: 'EVIDENCE_MERKLE_ARGUMENT' });
      await assert.rejects(rootAt(MAX + 1, store), { code: 'EVIDENCE_TREE_STORE', reason: 'missing-node' });
      await assert.rejects(nodesToStoreOnAppend(0, Buffer.alloc(31), store), { code: 'EVIDENCE_MERKLE_ARGUMENT', reason: 'bad-hash-size' });
      assert.deepEqual(await consistencyProof(7, 7, store), []);
    });

    it('verification reports why a proof is malformed', () => {
      const h = createHash('sha256').digest();
      assert.throws(() => verifyInclusion(h, 3, 3, [], h), { reason: 'index-out-of-range' });
      assert.throws(() => verifyInclusion(h, 0, 2, [], h), { reason: 'wrong-proof-length' });
      assert.throws(() => verifyInclusion(h, 0, 2, [Buffer.alloc(31)], h), { reason: 'bad-hash-size' });
      assert.throws(() => verifyInclusion(Buffer.alloc(33), 0, 1, [], h), { reason: 'bad-hash-size' });
      assert.throws(() => verifyConsistency(0, 0, [], h, h), { reason: 'size1-zero' });
      assert.throws(() => verifyConsistency(3, 2, [], h, h), { reason: 'size2-below-size1' });
      assert.throws(() => verifyConsistency(2, 2, [h], h, h), { reason: 'wrong-proof-length' });
      assert.throws(() => verifyConsistency(1, 2, [], h, h), { reason: 'wrong-proof-length' });
    });

    it('refuses a store that answers with the wrong number or size of hashes', async () => {
      const short: TreeNodeReader = { getNodes: async () => [] };
      const wrong: TreeNodeReader = { getNodes: async (keys) => keys.map(() => Buffer.alloc(20)) };
      await assert.rejects(rootAt(3, short), { code: 'EVIDENCE_TREE_STORE', reason: 'wrong-count' });
      await assert.rejects(rootAt(3, wrong), { code: 'EVIDENCE_TREE_STORE', reason: 'bad-hash-size' });
    });

    it('InMemoryTreeNodes refuses to rewrite a stored node', () => {
      const s = new InMemoryTreeNodes();
      s.put([{ level: 0, index: 0, hash: Buffer.alloc(32, 1) }]);
      s.put([{ level: 0, index: 0, hash: Buffer.alloc(32, 1) }]);
      assert.throws(() => s.put([{ level: 0, index: 0, hash: Buffer.alloc(32, 2) }]), { reason: 'node-rewrite' });
    });
  });
});
