import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from '../../../src/evidence/checkpoint';
import { generateCosignerKey, parseCosignatureVerifierKey } from '../../../src/evidence/cosignature';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';
import { ManualClock } from '../../../src/lib/clock';
import { BrokerError } from '../../../src/lib/errors';
import { SecretValue } from '../../../src/lib/secret-value';
import { formatAddCheckpointBody } from '../../../src/witness/add-checkpoint-wire';
import { Witness } from '../../../src/witness/witness';
import { WitnessRefusedError, addCosignatureLines, requestCosignature } from '../../../src/witness/witness-client';
import { startWitnessServer, type WitnessServer } from '../../../src/witness/witness-server';
import { createTestCa } from '../../helpers/test-ca';
import { TestLog } from './test-log';

const ORIGIN = 'example.org/secret-broker';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function raw(url: string, method: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A plain HTTP server answering every request with `handler`. */
async function fakeWitness(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('witness/witness-server and witness-client (HTTP add-checkpoint)', function () {
  this.timeout(30_000);
  const logKey = generateNoteKey(ORIGIN);
  const signer = parseSignerKey(logKey.signerKey);
  const wkey = generateCosignerKey('witness.example.org/w1');
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  let tmp: string;
  let witness: Witness;
  let server: WitnessServer;
  let addUrl: string;

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witness-http-'));
    witness = await Witness.open({ statePath: path.join(tmp, 'state.json'), signerKey: wkey.signerKey, logs: [{ origin: ORIGIN, key: logKey.verifierKey }], clock });
    server = await startWitnessServer({ witness, host: '127.0.0.1', port: 0, maxBodyBytes: 4096 });
    addUrl = `${server.url}/add-checkpoint`;
  });
  afterEach(async () => {
    await server.close();
    await witness.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('server status codes', () => {
    it('200: signature lines that verify as a cosignature', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(4);
      const note = await log.checkpoint();
      const r = await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: note }));
      assert.equal(r.status, 200, r.body);
      assert.match(r.headers['content-type']!, /^text\/plain/);
      assert.match(r.body, /^(\u2014 witness\.example\.org\/w1 [A-Za-z0-9+/=]+\n)+$/);
      const opened = openCheckpoint(Buffer.concat([note, Buffer.from(r.body)]), [parseVerifierKey(logKey.verifierKey), parseCosignatureVerifierKey(wkey.verifierKey)]);
      assert.equal(opened.cosignatures.length, 1);
    });

    it('409: the witness size as text/x.tlog.size', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(4);
      await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }));
      await log.grow(2);
      const r = await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }));
      assert.equal(r.status, 409);
      assert.equal(r.headers['content-type'], 'text/x.tlog.size');
      assert.equal(r.body, '4\n');
    });

    it('400 malformed, 403 bad signature, 404 unknown log, 422 inconsistent', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(4);
      assert.equal((await raw(addUrl, 'POST', 'old 01\n\nx')).status, 400);
      assert.equal((await raw(addUrl, 'POST', 'old 0\n\nnot a checkpoint\n')).status, 400);
      const impostor = parseSignerKey(generateNoteKey(ORIGIN).signerKey);
      const forged = await log.checkpoint(4, [impostor]);
      assert.equal((await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: forged }))).status, 403);
      const stranger = generateNoteKey('example.org/stranger');
      const strangerNote = await new TestLog('example.org/stranger', parseSignerKey(stranger.signerKey)).grow(1).then((l) => l.checkpoint());
      assert.equal((await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: strangerNote }))).status, 404);
      await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }));
      const fork = await new TestLog(ORIGIN, signer, 'fork').grow(4);
      const r = await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 4, consistencyProof: [], checkpointNote: await fork.checkpoint() }));
      assert.equal(r.status, 422);
      assert.match(r.body, /fork/);
      // A rollback: old size above the checkpoint size.
      assert.equal((await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 4, consistencyProof: [], checkpointNote: await log.checkpoint(2) }))).status, 400);
    });

    it('405 for another method, 404 for another path, 413 for a large body', async () => {
      const get = await raw(addUrl, 'GET');
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
      assert.equal((await raw(`${server.url}/nope`, 'POST', 'x')).status, 404);
      const big = await raw(addUrl, 'POST', Buffer.alloc(8192, 0x41));
      assert.equal(big.status, 413);
      // Chunked, so no Content-Length to judge by.
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = http.request(addUrl, { method: 'POST' }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write(Buffer.alloc(1024, 0x41));
        req.end();
      });
      assert.equal(chunked, 413);
    });

    it('serves the last cosigned checkpoint for monitors', async () => {
      const hash = createHash('sha256').update(ORIGIN).digest('hex');
      assert.equal((await raw(`${server.url}/${hash}/checkpoint`, 'GET')).status, 404);
      const log = await new TestLog(ORIGIN, signer).grow(3);
      await raw(addUrl, 'POST', formatAddCheckpointBody({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }));
      const r = await raw(`${server.url}/${hash}/checkpoint`, 'GET');
      assert.equal(r.status, 200);
      const opened = openCheckpoint(r.body, [parseVerifierKey(logKey.verifierKey), parseCosignatureVerifierKey(wkey.verifierKey)]);
      assert.equal(opened.checkpoint.size, 3);
      assert.equal(opened.cosignatures.length, 1);
      assert.equal((await raw(`${server.url}/${'0'.repeat(64)}/checkpoint`, 'GET')).status, 404);
    });
  });

  describe('client', () => {
    it('gets verified cosignatures, learns the size from a 409 and retries from there', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(5);
      const first = await requestCosignature(server.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() }, { witnessKey: wkey.verifierKey });
      assert.equal(first.status, 'cosigned');
      await log.grow(3);
      const note = await log.checkpoint();
      const conflict = await requestCosignature(`${server.url}/`, { oldSize: 0, proof: [], checkpointNote: note });
      assert.deepEqual(conflict, { status: 'conflict', witnessSize: 5 });
      const r = await requestCosignature(server.url, { oldSize: 5, proof: await log.proof(5), checkpointNote: note }, { witnessKey: wkey.verifierKey });
      assert.equal(r.status, 'cosigned');
      const merged = addCosignatureLines(note, r.status === 'cosigned' ? r.signatureLines : []);
      const opened = openCheckpoint(merged, [parseVerifierKey(logKey.verifierKey), parseCosignatureVerifierKey(wkey.verifierKey)]);
      assert.equal(opened.cosignatures.length, 1);
      // Adding a newer cosignature by the same key replaces the old one.
      clock.advance(5000);
      const again = await requestCosignature(server.url, { oldSize: 8, proof: [], checkpointNote: merged }, { witnessKey: wkey.verifierKey });
      const twice = addCosignatureLines(merged, again.status === 'cosigned' ? again.signatureLines : []);
      assert.equal(openCheckpoint(twice, [parseVerifierKey(logKey.verifierKey), parseCosignatureVerifierKey(wkey.verifierKey)]).cosignatures.length, 1);
      assert.equal(twice.toString().split('\n').filter((l) => l.startsWith('\u2014 witness')).length, 1);
    });

    it('reports a refusal as WitnessRefusedError with its status', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(5);
      await requestCosignature(server.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() });
      const err = await requestCosignature(server.url, { oldSize: 5, proof: [], checkpointNote: await log.checkpoint(3) }).catch((e: unknown) => e);
      assert.ok(err instanceof WitnessRefusedError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.kind, 'failed_precondition');
      const fork = await new TestLog(ORIGIN, signer, 'fork').grow(5);
      const e422 = await requestCosignature(server.url, { oldSize: 5, proof: [], checkpointNote: await fork.checkpoint() }).catch((e: unknown) => e);
      assert.ok(e422 instanceof WitnessRefusedError);
      assert.equal(e422.status, 422);
      assert.match(e422.message, /fork/);
    });

    it('refuses a response without a valid cosignature by the expected key', async () => {
      const log = await new TestLog(ORIGIN, signer).grow(2);
      const other = generateCosignerKey('witness.example.org/w1');
      await assert.rejects(
        requestCosignature(server.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() }, { witnessKey: other.verifierKey }),
        (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable' && /no cosignature by its key/.test(e.message),
      );
    });

    it('wraps every transport failure as UNAVAILABLE', async () => {
      const note = await (await new TestLog(ORIGIN, signer).grow(1)).checkpoint();
      const req = { oldSize: 0, proof: [], checkpointNote: note };
      const unavailable = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
        const e = await p.then(
          () => assert.fail('answered'),
          (x: unknown) => x,
        );
        assert.ok(e instanceof BrokerError, `raw error: ${String(e)}`);
        assert.equal(e.kind, 'unavailable', e.message);
        assert.match(e.message, re);
      };
      const silent = await fakeWitness(() => undefined);
      await unavailable(requestCosignature(silent.url, req, { timeoutMs: 150 }), /no answer within 150 ms/);
      const ac = new AbortController();
      const aborted = requestCosignature(silent.url, req, { signal: ac.signal });
      ac.abort();
      await unavailable(aborted, /aborted/);
      await silent.close();
      await unavailable(requestCosignature(silent.url, req), /cannot reach the witness \(ECONNREFUSED\)/);

      const answers: Array<[number, Record<string, string>, string]> = [
        [500, {}, 'boom'],
        [200, {}, 'not signature lines\n'],
        [409, { 'content-type': 'text/plain' }, '3\n'],
        [409, { 'content-type': 'text/x.tlog.size' }, 'three\n'],
        [200, {}, 'x'.repeat(100_000)],
      ];
      let i = 0;
      const fake = await fakeWitness((_req, res) => {
        const [status, headers, body] = answers[i++]!;
        res.writeHead(status, headers).end(body);
      });
      try {
        await unavailable(requestCosignature(fake.url, req), /HTTP 500/);
        await unavailable(requestCosignature(fake.url, req), /not signature lines/);
        await unavailable(requestCosignature(fake.url, req), /without a text\/x\.tlog\.size size/);
        await unavailable(requestCosignature(fake.url, req), /without a text\/x\.tlog\.size size/);
        await unavailable(requestCosignature(fake.url, req), /over 65536 bytes/);
      } finally {
        await fake.close();
      }
      await assert.rejects(requestCosignature('ftp://x', req), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument');
      await assert.rejects(requestCosignature('not a url', req), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument');
    });
  });

  it('serves HTTPS when given a certificate', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue({ commonName: 'witness', ipAddresses: ['127.0.0.1'] });
    const tlsServer = await startWitnessServer({ witness, host: '127.0.0.1', port: 0, tls: { cert: leaf.chainPem, key: SecretValue.fromString(leaf.keyPem) } });
    try {
      assert.match(tlsServer.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const log = await new TestLog(ORIGIN, signer).grow(2);
      const r = await requestCosignature(tlsServer.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() }, { ca: ca.certPem, witnessKey: wkey.verifierKey });
      assert.equal(r.status, 'cosigned');
      // Without the CA the certificate is not trusted, and that is an UNAVAILABLE, not a raw TLS error.
      await assert.rejects(
        requestCosignature(tlsServer.url, { oldSize: 2, proof: [], checkpointNote: await log.checkpoint() }),
        (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable',
      );
    } finally {
      await tlsServer.close();
    }
  });
});
