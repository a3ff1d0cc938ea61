/**
 * AWS Secrets Manager as a static secret store, through
 * `@aws-sdk/client-secrets-manager` (see README.md in this folder).
 *
 * Everything that shapes a request comes from config: region, endpoint, CA.
 * The SDK would otherwise also take `AWS_ENDPOINT_URL*`, `AWS_REGION`,
 * `AWS_USE_FIPS_ENDPOINT`, `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` and
 * `AWS_DEFAULTS_MODE` from the environment or ~/.aws/config, and Node would
 * take `NODE_TLS_REJECT_UNAUTHORIZED`; each is pinned below. Credentials come
 * from the SDK's default chain (env, ~/.aws, SSO, web identity, ECS, IMDS).
 *
 * Each call (get, put, list, health) is one operation with one deadline,
 * `timeoutMs`, that covers every AWS request it makes and the SDK's retries
 * (standard mode, 3 attempts, exponential backoff with jitter on throttling,
 * 5xx and connection errors). No cache and no breaker here: the registry
 * around the backend owns those.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type GetSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import type { AwsBackendConfig } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { BrokerError, notFound } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { SecretValue } from '../../lib/secret-value';
import type {
  GetSecretOptions,
  ListableSecretBackend,
  SecretListing,
  SecretVersion,
  SecretVersionInfo,
  WritableSecretBackend,
} from '../backend';
import { awsErrorFacts, classifyAwsError, translateAwsError } from './aws-errors';
import { pickField } from '../secret-field';
import type { AwsRotationSteps, AwsStages } from './aws-rotation';
import { findNumber, nextNumber, numberInVersionId, numberVersions, versionToken, type NumberedVersion } from './version-numbers';

export interface AwsBackendDeps {
  clock: Clock;
  log: Logger;
}

export type AwsSecretBackend = WritableSecretBackend & ListableSecretBackend & { readonly kind: 'aws-secrets-manager'; readonly rotation: AwsRotationSteps };

/** SDK attempts per AWS request (1 + 2 retries); the operation deadline bounds them all. */
export const AWS_MAX_ATTEMPTS = 3;
/** AWS's limit on a secret value. */
export const AWS_MAX_VALUE_BYTES = 65_536;

/** A SecretId: a name or an ARN (as config checks it). */
const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;
/** A name CreateSecret accepts. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** Sends one SDK command under the operation's deadline. */
type Send = <O>(command: { readonly input: unknown }) => Promise<O>;
type RawSend = (command: unknown, options: { abortSignal: AbortSignal }) => Promise<unknown>;

export function openAwsBackend(cfg: AwsBackendConfig, deps: AwsBackendDeps): AwsSecretBackend {
  return new AwsSecretsManagerBackend(cfg, deps);
}

class AwsSecretsManagerBackend implements AwsSecretBackend {
  readonly kind = 'aws-secrets-manager' as const;
  readonly type = 'static' as const;
  readonly name: string;
  readonly #cfg: AwsBackendConfig;
  readonly #log: Logger;
  readonly #client: SecretsManagerClient;
  readonly #inFlight = new Set<AbortController>();
  /** Serializes this instance's puts per secret, so each gets its own number. */
  readonly #writes = new KeyedMutex();
  #closed = false;
  /** The requests behind the four rotation steps (aws-rotation.ts). */
  readonly rotation: AwsRotationSteps = {
    stages: (id) => this.#op(`secret "${id}"`, 'read', (send) => this.#stages(send, id)),
    createPending: (id, token, value) => this.#createPending(id, token, value),
    readVersion: (id, which) => this.#readVersion(id, which),
    finish: (id, pending, from) => this.#finish(id, pending, from),
    numberOf: (id, versionId) =>
      this.#op(`secret "${id}"`, 'read', async (send) => (await this.#numbered(send, id)).find((v) => v.versionId === versionId)?.version),
  };

  constructor(cfg: AwsBackendConfig, deps: AwsBackendDeps) {
    this.name = cfg.name;
    this.#cfg = cfg;
    this.#log = deps.log;
    let ca: string[] | undefined;
    if (cfg.caFile) {
      try {
        ca = [...rootCertificates, readFileSync(cfg.caFile, 'utf8')];
      } catch (err) {
        throw new BrokerError('failed_precondition', `backends.${cfg.name}.ca_file: cannot read ${cfg.caFile}`, { cause: err });
      }
    }
    // Our own agents: certificate checks stated explicitly (so NODE_TLS_REJECT_UNAUTHORIZED cannot turn
    // them off), the config's CA added to the system roots, and no proxy (Node's agents use none).
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 50, rejectUnauthorized: true, ...(ca ? { ca } : {}) });
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 50 });
    this.#client = new SecretsManagerClient({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      ignoreConfiguredEndpointUrls: true,
      useFipsEndpoint: false,
      useDualstackEndpoint: false,
      defaultsMode: 'standard',
      retryMode: 'standard',
      maxAttempts: AWS_MAX_ATTEMPTS,
      requestHandler: { httpAgent, httpsAgent, connectionTimeout: cfg.timeoutMs, requestTimeout: cfg.timeoutMs },
    });
  }

  async get(name: string, opts: GetSecretOptions = {}): Promise<SecretVersion> {
    this.#live();
    assertSecretId(name, SECRET_ID);
    const { version, field } = opts;
    if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) {
      throw new BrokerError('invalid_argument', 'version: must be a positive integer');
    }
    if (field !== undefined && (typeof field !== 'string' || field.length === 0)) {
      throw new BrokerError('invalid_argument', 'field: must be a non-empty string');
    }
    const secret = `secret "${name}"`;
    const what = version === undefined ? secret : `version ${version} of ${secret}`;
    return this.#op(what, 'read', async (send) => {
      let out: GetSecretValueCommandOutput;
      let number: number | undefined;
      if (version === undefined) {
        // AWSCURRENT stated explicitly: moto's default does not follow UpdateSecretVersionStage.
        out = await send<GetSecretValueCommandOutput>(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
        number = numberInVersionId(out.VersionId);
        if (number === undefined) {
          // Written outside the broker: number it among its siblings.
          number = (await this.#numbered(send, name)).find((v) => v.versionId === out.VersionId)?.version;
          if (number === undefined) throw new BrokerError('unavailable', `backend "${this.name}": ${secret} changed while it was read`);
        }
      } else {
        if (!(await this.#exists(send, name))) throw notFound(`${secret} in backend "${this.name}"`);
        const hit = findNumber(await this.#numbered(send, name), version);
        if (!hit) throw notFound(`${what} in backend "${this.name}"`);
        out = await send<GetSecretValueCommandOutput>(new GetSecretValueCommand({ SecretId: name, VersionId: hit.versionId }));
        number = version;
      }
      const value = this.#valueOf(out, secret, field);
      return {
        value,
        version: number,
        ...(out.VersionId ? { versionId: out.VersionId } : {}),
        ...(out.CreatedDate ? { createdAt: out.CreatedDate.getTime() } : {}),
      };
    });
  }

  async put(name: string, value: SecretValue): Promise<SecretVersionInfo> {
    this.#live();
    assertSecretId(name, SECRET_NAME);
    if (!(value instanceof SecretValue)) throw new BrokerError('invalid_argument', 'value: must be a SecretValue');
    if (value.length === 0) throw new BrokerError('invalid_argument', 'value: must not be empty');
    if (value.length > AWS_MAX_VALUE_BYTES) throw new BrokerError('invalid_argument', `value: must be at most ${AWS_MAX_VALUE_BYTES} bytes`);
    return this.#writes.run(name, () => this.#putNow(name, value));
  }

  async list(): Promise<SecretListing[]> {
    this.#live();
    return this.#op('the secret list', 'list', async (send) => {
      const rows: SecretListing[] = [];
      let token: string | undefined;
      do {
        const page = await send<{ SecretList?: Array<{ Name?: string; SecretVersionsToStages?: Record<string, string[]> }>; NextToken?: string }>(
          new ListSecretsCommand({ ...(token ? { NextToken: token } : {}) }),
        );
        for (const s of page.SecretList ?? []) {
          if (!s.Name) continue;
          const currentId = Object.entries(s.SecretVersionsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
          if (!currentId) continue; // a secret without a value yet
          let version = numberInVersionId(currentId);
          if (version === undefined) {
            const numbered = await this.#numbered(send, s.Name).catch((err: unknown) => {
              if (classifyAwsError(awsErrorFacts(err)).kind === 'not_found') return []; // deleted meanwhile
              throw err;
            });
            version = numbered.find((v) => v.versionId === currentId)?.version;
            if (version === undefined) continue;
          }
          rows.push({ name: s.Name, version, versionId: currentId });
        }
        token = page.NextToken || undefined;
      } while (token);
      return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  /**
   * The endpoint answers and accepts our credentials. AccessDenied counts as
   * healthy: AWS checked the signature before refusing, and a least-privilege
   * role may read its secrets without being allowed to list any.
   */
  async health(): Promise<void> {
    this.#live();
    await this.#op('a health probe', 'list', async (send) => {
      try {
        await send(new ListSecretsCommand({ MaxResults: 1, Filters: [{ Key: 'name', Values: ['secret-broker-health-probe'] }] }));
      } catch (err) {
        if (awsErrorFacts(err).name !== 'AccessDeniedException') throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const ac of this.#inFlight) ac.abort();
    this.#client.destroy();
  }

  async #putNow(name: string, value: SecretValue): Promise<SecretVersionInfo> {
    const what = `secret "${name}"`;
    return this.#op(what, 'write', async (send) => {
      const payload = encodeValue(value);
      try {
        let numbered: NumberedVersion[] | undefined;
        if (await this.#exists(send, name)) numbered = await this.#numbered(send, name);
        else {
          try {
            const token = versionToken(1);
            const out = await send<{ VersionId?: string }>(new CreateSecretCommand({ Name: name, ClientRequestToken: token, ...payload }));
            return { version: 1, versionId: out.VersionId ?? token };
          } catch (err) {
            // Another writer created it first: add our value as its next version.
            if (awsErrorFacts(err).name !== 'ResourceExistsException') throw err;
            numbered = await this.#numbered(send, name);
          }
        }
        const n = nextNumber(numbered);
        const token = versionToken(n);
        const out = await send<{ VersionId?: string }>(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: token, ...payload }));
        return { version: n, versionId: out.VersionId ?? token };
      } finally {
        payload.SecretBinary?.fill(0);
      }
    });
  }

  async #stages(send: Send, id: string): Promise<AwsStages> {
    this.#live();
    assertSecretId(id, SECRET_ID);
    const out = await send<{ VersionIdsToStages?: Record<string, string[]> }>(new DescribeSecretCommand({ SecretId: id }));
    const stages: AwsStages = {};
    for (const [versionId, labels] of Object.entries(out.VersionIdsToStages ?? {})) {
      if (labels.includes('AWSCURRENT')) stages.current = versionId;
      if (labels.includes('AWSPENDING')) stages.pending = versionId;
      if (labels.includes('AWSPREVIOUS')) stages.previous = versionId;
    }
    return stages;
  }

  async #createPending(id: string, token: string, value: SecretValue): Promise<string> {
    this.#live();
    assertSecretId(id, SECRET_ID);
    if (value.length === 0 || value.length > AWS_MAX_VALUE_BYTES) throw new BrokerError('invalid_argument', `value: must be 1 to ${AWS_MAX_VALUE_BYTES} bytes`);
    return this.#writes.run(id, () =>
      this.#op(`secret "${id}" (createSecret: the AWSPENDING version)`, 'write', async (send) => {
        const payload = encodeValue(value);
        try {
          const out = await send<{ VersionId?: string }>(
            new PutSecretValueCommand({ SecretId: id, ClientRequestToken: token, VersionStages: ['AWSPENDING'], ...payload }),
          );
          return out.VersionId ?? token;
        } finally {
          payload.SecretBinary?.fill(0);
        }
      }),
    );
  }

  async #readVersion(id: string, which: { versionId: string } | { stage: 'AWSPENDING' | 'AWSCURRENT' }): Promise<{ versionId: string; value: SecretValue }> {
    this.#live();
    assertSecretId(id, SECRET_ID);
    const what = 'versionId' in which ? `a version of secret "${id}"` : `the ${which.stage} version of secret "${id}"`;
    return this.#op(what, 'read', async (send) => {
      const out = await send<GetSecretValueCommandOutput>(
        new GetSecretValueCommand({ SecretId: id, ...('versionId' in which ? { VersionId: which.versionId } : { VersionStage: which.stage }) }),
      );
      const value = this.#valueOf(out, `secret "${id}"`, undefined);
      return { versionId: out.VersionId ?? ('versionId' in which ? which.versionId : ''), value };
    });
  }

  async #finish(id: string, pending: string, from: string): Promise<void> {
    this.#live();
    assertSecretId(id, SECRET_ID);
    await this.#writes.run(id, () =>
      this.#op(`secret "${id}" (finishSecret)`, 'write', async (send) => {
        let stages = await this.#stages(send, id);
        if (stages.current !== pending) {
          if (stages.current !== from) {
            throw new BrokerError(
              'failed_precondition',
              `backend "${this.name}": AWSCURRENT of secret "${id}" moved to another version since the rotation read it; nothing was made current (the next run starts afresh)`,
            );
          }
          // Conditional: AWS refuses if `from` no longer carries AWSCURRENT (a write raced us). AWSPREVIOUS follows to `from`.
          await send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSCURRENT', MoveToVersionId: pending, RemoveFromVersionId: from }));
          stages = await this.#stages(send, id);
        }
        // Without RotateSecret nothing removes AWSPENDING for us (on AWS or moto): the rotation does.
        if (stages.pending === pending) await send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSPENDING', RemoveFromVersionId: pending }));
      }),
    );
  }

  /**
   * Whether the secret exists (deleted or not). Asked before ListSecretVersionIds,
   * which moto answers with HTTP 500 for an unknown secret instead of
   * ResourceNotFoundException.
   */
  async #exists(send: Send, name: string): Promise<boolean> {
    try {
      await send(new DescribeSecretCommand({ SecretId: name }));
      return true;
    } catch (err) {
      if (classifyAwsError(awsErrorFacts(err)).kind === 'not_found') return false;
      throw err;
    }
  }

  /** Every version of `name` (deprecated ones too), numbered (see version-numbers.ts). */
  async #numbered(send: Send, name: string): Promise<NumberedVersion[]> {
    const listed: Array<{ versionId: string; stages: string[]; createdAt: number | undefined }> = [];
    let token: string | undefined;
    do {
      const page = await send<{ Versions?: Array<{ VersionId?: string; VersionStages?: string[]; CreatedDate?: Date }>; NextToken?: string }>(
        new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 100, ...(token ? { NextToken: token } : {}) }),
      );
      for (const v of page.Versions ?? []) {
        if (v.VersionId) listed.push({ versionId: v.VersionId, stages: v.VersionStages ?? [], createdAt: v.CreatedDate?.getTime() });
      }
      token = page.NextToken || undefined;
    } while (token);
    return numberVersions(listed);
  }

  #valueOf(out: GetSecretValueCommandOutput, secret: string, field: string | undefined): SecretValue {
    const where = `${secret} in backend "${this.name}"`;
    if (out.SecretString !== undefined) {
      return field === undefined ? SecretValue.fromString(out.SecretString) : pickField(out.SecretString, field, where);
    }
    if (out.SecretBinary !== undefined) {
      try {
        if (field !== undefined) throw new BrokerError('invalid_argument', `field: ${where} holds binary data, which has no fields`);
        return SecretValue.fromBytes(out.SecretBinary);
      } finally {
        out.SecretBinary.fill(0);
      }
    }
    throw new BrokerError('failed_precondition', `${where} has no value`);
  }

  /**
   * Runs one operation under one deadline. Every AWS request in it shares an
   * AbortController; when `timeoutMs` passes, the requests are aborted and the
   * operation fails with `unavailable` at once (the SDK's backoff sleep is not
   * abortable, so the deadline does not wait for it).
   */
  async #op<T>(what: string, verb: 'read' | 'write' | 'list', fn: (send: Send) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    this.#inFlight.add(ac);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new BrokerError('unavailable', `backend "${this.name}" (aws-secrets-manager) is unavailable for ${what} (timed out after ${this.#cfg.timeoutMs} ms)`));
      }, this.#cfg.timeoutMs);
    });
    deadline.catch(() => undefined);
    const send: Send = async <O>(command: { readonly input: unknown }) => {
      if (this.#closed) throw new BrokerError('unavailable', `backend "${this.name}" (aws-secrets-manager) is closed`);
      if (ac.signal.aborted) throw new BrokerError('unavailable', `backend "${this.name}" (aws-secrets-manager) is unavailable for ${what} (timed out)`);
      const p = (this.#client.send as RawSend).call(this.#client, command, { abortSignal: ac.signal }) as Promise<O>;
      p.catch(() => undefined);
      return Promise.race([p, deadline]);
    };
    try {
      return await Promise.race([fn(send), deadline]);
    } catch (err) {
      const e = this.#closed
        ? new BrokerError('unavailable', `backend "${this.name}" (aws-secrets-manager) is closed`)
        : translateAwsError(this.name, what, err, verb);
      if (!(err instanceof BrokerError)) {
        const facts = awsErrorFacts(err);
        this.#log[e.kind === 'not_found' ? 'debug' : 'warn'](
          { backend: this.name, target: what, kind: e.kind, aws: { name: facts.name, code: facts.code, httpStatus: facts.httpStatus, requestId: facts.requestId, message: facts.awsMessage } },
          'aws secrets manager request failed',
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(ac);
    }
  }

  #live(): void {
    if (this.#closed) throw new BrokerError('unavailable', `backend "${this.name}" (aws-secrets-manager) is closed`);
  }
}

/** Rejects a bad id without echoing it (it may be a pasted value). */
function assertSecretId(name: string, pattern: RegExp): void {
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new BrokerError(
      'invalid_argument',
      pattern === SECRET_NAME
        ? 'name: must be 1 to 512 characters of A-Z a-z 0-9 / _ + = . @ -'
        : 'name: must be a secret name or ARN, 1 to 2048 characters of A-Z a-z 0-9 / _ + = . @ : -',
    );
  }
}

/** UTF-8 text goes in SecretString (what the console and most tools read), anything else in SecretBinary. */
function encodeValue(value: SecretValue): { SecretString?: string; SecretBinary?: Uint8Array } {
  const bytes = value.reveal();
  try {
    return { SecretString: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { SecretBinary: Uint8Array.from(bytes) };
  } finally {
    bytes.fill(0);
  }
}
