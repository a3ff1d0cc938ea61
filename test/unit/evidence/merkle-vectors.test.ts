import { strict as assert } from 'node:assert';
import { InMemoryTreeNodes } from '../../../src/evidence/in-memory-tree-nodes';
import { emptyRoot, hashLeaf, rootAt, verifyConsistency, verifyInclusion } from '../../../src/evidence/merkle';
import { StreamingTreeHasher } from '../../../src/evidence/merkle-stream';
import { b64, jsonFilesUnder, readVector } from './vector-files';

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

/** Accepted means verified true; a vector's error is either a throw or false. */
function outcome(run: () => boolean): 'ok' | 'rejected' {
  try {
    return run() ? 'ok' : 'rejected';
  } catch {
    return 'rejected';
  }
}

describe('evidence/merkle against transparency-dev vectors', () => {
  const inclusion = jsonFilesUnder('rfc6962/inclusion');
  const consistency = jsonFilesUnder('rfc6962/consistency');

  it('finds the vector files', () => {
    // Guards against a glob that silently matches nothing.
    assert.ok(inclusion.length >= 90, `only ${inclusion.length} inclusion vectors`);
    assert.ok(consistency.length >= 80, `only ${consistency.length} consistency vectors`);
  });

  describe('inclusion', () => {
    for (const file of inclusion) {
      const v = readVector<InclusionVector>(file);
      it(`${file}: ${v.desc} (${v.wantErr ? 'rejected' : 'verifies'})`, () => {
        const got = outcome(() => verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root)));
        assert.equal(got, v.wantErr ? 'rejected' : 'ok');
      });
    }
  });

  describe('consistency', () => {
    for (const file of consistency) {
      const v = readVector<ConsistencyVector>(file);
      it(`${file}: ${v.desc} (${v.wantErr ? 'rejected' : 'verifies'})`, () => {
        const got = outcome(() => verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2)));
        assert.equal(got, v.wantErr ? 'rejected' : 'ok');
      });
    }
  });

  describe('roots.json', () => {
    const roots = readVector<{ leaf_inputs_hex: string[]; root_by_size_hex: string[] }>('rfc6962/roots.json');

    it('uses the 8 reference leaves of transparency-dev testonly/constants.go', () => {
      assert.deepEqual(roots.leaf_inputs_hex, ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']);
      assert.equal(roots.root_by_size_hex.length, 9);
    });

    it('the empty tree root is SHA-256("")', () => {
      assert.equal(emptyRoot().toString('hex'), roots.root_by_size_hex[0]);
    });

    it('rootAt over stored nodes gives every root for sizes 0..8', async () => {
      const store = new InMemoryTreeNodes();
      for (const hex of roots.leaf_inputs_hex) await store.append(hashLeaf(Buffer.from(hex, 'hex')));
      for (let size = 0; size <= 8; size++) {
        assert.equal((await rootAt(size, store)).toString('hex'), roots.root_by_size_hex[size], `size ${size}`);
      }
    });

    it('StreamingTreeHasher gives every root for sizes 0..8', () => {
      const s = new StreamingTreeHasher();
      assert.equal(s.root().toString('hex'), roots.root_by_size_hex[0]);
      roots.leaf_inputs_hex.forEach((hex, i) => {
        s.append(hashLeaf(Buffer.from(hex, 'hex')));
        assert.equal(s.root().toString('hex'), roots.root_by_size_hex[i + 1], `size ${i + 1}`);
      });
    });
  });
});
