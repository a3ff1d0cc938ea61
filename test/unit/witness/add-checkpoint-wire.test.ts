import { strict as assert } from 'node:assert';
import {
  MAX_PROOF_LINES,
  formatAddCheckpointBody,
  formatSizeBody,
  parseAddCheckpointBody,
  parseSignatureLines,
  parseSizeBody,
} from '../../../src/witness/add-checkpoint-wire';
import { WitnessError } from '../../../src/witness/witness-error';

describe('witness/add-checkpoint-wire (tlog-witness bodies)', () => {
  // The example request body of c2sp.org/tlog-witness.
  const SPEC_EXAMPLE = [
    'old 20852014',
    'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=',
    'jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=',
    '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=',
    '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=',
    '',
    'example.com/behind-the-sofa',
    '20852163',
    'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
    '',
    '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
    '',
  ].join('\n');

  const malformed = (body: string | Buffer, reason: string): void => {
    assert.throws(
      () => parseAddCheckpointBody(Buffer.from(body)),
      (e: unknown) => e instanceof WitnessError && e.code === 'WITNESS_MALFORMED' && e.reason === reason,
    );
  };

  it('parses the spec example', () => {
    const r = parseAddCheckpointBody(Buffer.from(SPEC_EXAMPLE, 'utf8'));
    assert.equal(r.oldSize, 20852014);
    assert.equal(r.consistencyProof.length, 4);
    assert.equal(r.consistencyProof[0]!.toString('base64'), 'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=');
    assert.ok(r.checkpointNote.toString('utf8').startsWith('example.com/behind-the-sofa\n20852163\n'));
    assert.ok(r.checkpointNote.toString('utf8').endsWith('AYQ8=\n'));
  });

  it('round-trips what it formats', () => {
    const proof = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    const body = formatAddCheckpointBody({ oldSize: 7, consistencyProof: proof, checkpointNote: 'o\n9\nx\n\n\u2014 o AAAA\n' });
    assert.equal(body.toString('utf8').split('\n')[0], 'old 7');
    const r = parseAddCheckpointBody(body);
    assert.equal(r.oldSize, 7);
    assert.deepEqual(r.consistencyProof, proof);
    assert.equal(r.checkpointNote.toString('utf8'), 'o\n9\nx\n\n\u2014 o AAAA\n');
    assert.equal(formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: 'n' }).toString(), 'old 0\n\nn');
  });

  it('refuses malformed bodies', () => {
    malformed('', 'bad-old-size');
    malformed('old 01\n\nx', 'bad-old-size');
    malformed('old -1\n\nx', 'bad-old-size');
    malformed('old  1\n\nx', 'bad-old-size');
    malformed('Old 1\n\nx', 'bad-old-size');
    malformed('old 1\r\n\nx', 'bad-old-size');
    malformed('old 1\n', 'no-checkpoint');
    malformed('old 1\n\n', 'no-checkpoint');
    malformed('old 1\nAAAA\n\nx', 'bad-proof-line');
    malformed(`old 1\n${Buffer.alloc(32).toString('base64')} \n\nx`, 'bad-proof-line');
    const line = `${Buffer.alloc(32).toString('base64')}\n`;
    malformed(`old 1\n${line.repeat(MAX_PROOF_LINES + 1)}\nx`, 'proof-too-long');
    assert.equal(parseAddCheckpointBody(Buffer.from(`old 1\n${line.repeat(MAX_PROOF_LINES)}\nx`)).consistencyProof.length, MAX_PROOF_LINES);
  });

  it('formats and parses the 409 size body', () => {
    assert.equal(formatSizeBody(42), '42\n');
    assert.equal(parseSizeBody('42\n'), 42);
    assert.equal(parseSizeBody('0\n'), 0);
    assert.equal(parseSizeBody('042\n'), undefined);
    assert.equal(parseSizeBody('42'), undefined);
    assert.equal(parseSizeBody(' 42\n'), undefined);
  });

  it('parses signature lines strictly', () => {
    const lines = '\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n';
    const sigs = parseSignatureLines(lines);
    assert.equal(sigs.length, 1);
    assert.equal(sigs[0]!.name, 'witness.example/w1');
    for (const bad of ['', lines.trimEnd(), `x${lines}`, `${lines}\n`, '\u2014 w1 not-base64\n']) {
      assert.throws(() => parseSignatureLines(bad), WitnessError, JSON.stringify(bad));
    }
  });
});
