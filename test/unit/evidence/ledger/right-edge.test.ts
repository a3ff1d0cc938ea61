import { strict as assert } from 'node:assert';
import { InMemoryTreeNodes } from '../../../../src/evidence/in-memory-tree-nodes';
import { hashLeaf, nodesToStoreOnAppend, rootAt } from '../../../../src/evidence/merkle';
import { EMPTY_HEAD, appendToEdge, headFromEdge, rightEdgeKeys } from '../../../../src/evidence/ledger/right-edge';

describe('evidence/ledger/right-edge: synchronous appends from the right edge', () => {
  it('creates exactly the nodes merkle.nodesToStoreOnAppend does, for every size up to 300', async () => {
    const ref = new InMemoryTreeNodes();
    const edge = [...EMPTY_HEAD.edge];
    for (let i = 0; i < 300; i++) {
      const leaf = hashLeaf(Buffer.from(`entry ${i}`));
      const want = await nodesToStoreOnAppend(i, leaf, ref);
      const got = appendToEdge(edge, i, leaf);
      assert.deepEqual(
        got.map((n) => [n.level, n.index, n.hash.toString('hex')]),
        want.map((n) => [n.level, n.index, n.hash.toString('hex')]),
        `leaf ${i}`,
      );
      await ref.append(leaf);
      const size = i + 1;
      assert.deepEqual(
        edge.map((n) => [n.level, n.index]),
        rightEdgeKeys(size).map((k) => [k.level, k.index]),
        `edge at size ${size}`,
      );
      const head = headFromEdge(size, await ref.getNodes(rightEdgeKeys(size)));
      assert.deepEqual(head.edge.map((n) => n.hash.toString('hex')), edge.map((n) => n.hash.toString('hex')));
      if (size % 37 === 0) assert.ok((await rootAt(size, ref)).length === 32);
    }
  });

  it('refuses an incomplete stored edge', () => {
    assert.throws(() => headFromEdge(3, [Buffer.alloc(32)]), /right edge of the tree of size 3 is incomplete/);
  });
});
