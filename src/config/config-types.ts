import type { SignalKinds } from '../trust/trust-signals';
import type { TierThresholds } from '../trust/trust-tiers';
/** The compiled, validated, frozen config. Every path is absolute. */
export type OperatorRole = 'approver' | 'admin' | 'auditor' | 'rotator';
export const OPERATOR_ROLES: readonly OperatorRole[] = ['approver', 'admin', 'auditor', 'rotator'];

export interface HostPort {
  host: string;
  port: number;
}

export interface Limits {
  requestsPerSecond: number;
  burst: number;
  activeLeases: number;
  maxBodyBytes: number;
  maxMessageDepth: number;
  openStreams: number;
  /** Evidence bytes one agent may cause per minute before identical denials are folded. */
  evidenceBytesPerMinute: number;
  /** Brokered calls (Invoke) one agent may have running at once. */
  invokesInFlight: number;
}

/** Daemon-wide bounds (config `server`), shared by every agent. */
export interface ServerConfig {
  /** Brokered calls running at once, all agents together. */
  invokesInFlight: number;
  /** Upstream response bytes that in-flight brokered calls may hold buffered, all together. */
  bufferedResponseBytes: number;
  /** HTTP/2 streams per connection, on the mTLS and the health port. */
  maxConcurrentStreams: number;
  /** Open connections per port (mTLS and health). */
  maxConnections: number;
}

export type StateConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; urlEnv: string };

/** How a remote backend keeps a dead store from stalling requests (per backend). */
export interface BackendResilience {
  /** In-memory cache of static reads, per secret and version; 0 disables. Default 30 s. */
  cacheTtlMs: number;
  /** One request to the store, retries included. Default 5 s. */
  timeoutMs: number;
  /** Consecutive failures that open the circuit breaker. Default 5. */
  breakerFailures: number;
  /** How long the breaker stays open before one trial request (half-open). Default 10 s. */
  breakerOpenMs: number;
}

/** Vault auth: exactly one of a token file or AppRole. */
export type VaultAuthConfig =
  | { kind: 'token_file'; tokenFile: string }
  | { kind: 'approle'; roleId: string; secretIdFile: string; mount: string };

export interface VaultBackendConfig extends BackendResilience {
  kind: 'vault';
  name: string;
  /** http(s) URL of the Vault server, without a path (config `address`). */
  address: string;
  /** KV v2 mount (default "secret"). */
  mount: string;
  /** The database secrets engine mount for vault_dynamic actions (default "database"). */
  databaseMount: string;
  caFile?: string;
  namespace?: string;
  auth: VaultAuthConfig;
}

export interface AwsBackendConfig extends BackendResilience {
  kind: 'aws-secrets-manager';
  name: string;
  region: string;
  /** An endpoint override (moto, a VPC endpoint); the SDK's default when absent. */
  endpoint?: string;
  /** Extra CA bundle for the endpoint's TLS (PEM file). */
  caFile?: string;
}

export type BackendConfig =
  | { kind: 'local'; name: string; path: string; keyFile: string }
  | VaultBackendConfig
  | AwsBackendConfig
  | PostgresBackendConfig;

/** A PostgreSQL server the broker mints one login role per lease on (dynamic credentials). */
export interface PostgresBackendConfig extends BackendResilience {
  kind: 'postgres';
  name: string;
  /** Where the admin URL (postgres://user:password@host:port/db) is read from: a static backend and a name in it. */
  urlSecret: { backend: string; name: string };
  /** Every role the broker creates starts with it (default "sb_"); the orphan sweeper drops only those. */
  rolePrefix: string;
  /** The host and port agents connect to, when not those of the admin URL. */
  advertise?: HostPort;
  /**
   * The most connections this backend's lease roles may hold together (the sum of their CONNECTION
   * LIMITs). Absent: half of the server's connection slots open to non-superusers, read at the first
   * connection. Leases past it are refused (RESOURCE_EXHAUSTED), so agents cannot take the slots the
   * broker needs to revoke them.
   */
  maxLeaseConnections?: number;
  /**
   * A table only the admin login may lock: role DDL serializes on `LOCK TABLE … IN SHARE ROW EXCLUSIVE
   * MODE` of it instead of an advisory lock, which any role can take. Absent: the advisory lock.
   */
  lockTable?: { schema: string; table: string };
}

export interface RotationConfig {
  everyMs: number;
  /** Random characters drawn uniformly from `alphabet` (default letters and digits). No shell commands. */
  generator: { kind: 'random'; length: number; alphabet?: string };
  /**
   * aws-secrets-manager only: the postgres backend whose admin URL
   * (`url_secret`) this secret is; its setSecret step sets the new password on
   * that database. Absent: the rotation has no setSecret.
   */
  target?: { postgres: string };
}

/** Top-level `rotation:`: how long a rotation holds its lock (its fencing token goes stale after). */
export interface RotationSettings {
  lockTtlMs: number;
}

export const DEFAULT_ROTATION_LOCK_TTL_MS = 5 * 60_000;

export interface SecretConfig {
  name: string;
  backend: string;
  /** The name (local, vault) or id (aws) inside the backend. */
  ref: string;
  /** A key of a Vault KV v2 data map, or of a JSON SecretString in AWS. */
  field?: string;
  /** A pinned version (Vault KV v2); the current one when absent. */
  version?: number;
  rotation?: RotationConfig;
}

export type HttpAuth =
  | { kind: 'bearer'; secret: string }
  | { kind: 'basic'; username: string; secret: string }
  | { kind: 'header'; header: string; secret: string; prefix?: string };

export interface HttpActionConfig {
  baseUrl: string;
  methods: readonly string[];
  paths: readonly string[];
  auth: HttpAuth;
  allowNetworks: readonly string[];
  allowHeaders: readonly string[];
  caFiles: readonly string[];
  /** declared context field → where it comes from ("body.amount", "query.x", "path.id") */
  context: Readonly<Record<string, string>>;
  maxResponseBytes: number;
  timeoutMs: number;
}

export interface PostgresGrant {
  privilege: 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
  schema: string;
  table?: string;
}

export interface PostgresActionConfig {
  backend: string;
  grants: readonly PostgresGrant[];
  ttlMs: number;
  /** The role's CONNECTION LIMIT (default 2). */
  connectionLimit: number;
  /** The role's default statement_timeout (default 30 s; a session may change it). */
  statementTimeoutMs: number;
}

/** An action that hands the agent a Vault-issued database login (Vault `database/creds/<role>`), tied to the lease. */
export interface VaultDynamicActionConfig {
  /** A backend of kind vault. */
  backend: string;
  /** The Vault database role. */
  role: string;
  /**
   * Where agents connect with the login (Vault's creds response carries only
   * username and password): the `database_credential` host, port and database.
   */
  connection: { host: string; port: number; database: string };
}

export interface ActionConfig {
  name: string;
  http?: HttpActionConfig;
  postgres?: PostgresActionConfig;
  vaultDynamic?: VaultDynamicActionConfig;
  defaultTtlMs: number;
  maxTtlMs: number;
  /** Uses granted when a request names none. */
  defaultUses: number;
  /** A hard cap: uses granted = min(requested or defaultUses, maxUses, the policy's @max_uses). */
  maxUses: number;
  /**
   * What the action touches, rendered by the broker: literal text and `{field}`
   * placeholders over declared context fields ("ticket/{ticket}"), or a fixed
   * string; the action's name when the config gives none.
   */
  resource: ResourceTemplate;
  /**
   * actions.<a>.budget: per agent, the sum of the integer context field
   * `field` over a sliding window of `perMs`; policy sees
   * context.budget.<field>.used, and with `limit` the broker itself refuses a
   * grant whose amount x uses would pass it (checked atomically with the grant).
   */
  budget?: { field: string; perMs: number; limit?: number };
  /** The declared context fields (keys of http.context, or none). */
  contextFields: readonly string[];
}

/** A compiled `resource:`: the parts in order, each literal text or a declared context field. */
export interface ResourceTemplate {
  readonly source: string;
  readonly parts: ReadonlyArray<{ readonly text: string } | { readonly field: string }>;
}

export interface AgentConfig {
  name: string;
  id: string;
  groups: readonly string[];
  /** The operator who answers for this agent; never an approver of its requests (four eyes). */
  owner?: string;
  limits: Limits;
  /** `agents.<a>.trust`: this agent's own initial score and tier thresholds (else `trust:`'s). */
  trust?: AgentTrustConfig;
}

/** Per-agent trust overrides (each falls back to the `trust:` section). */
export interface AgentTrustConfig {
  initial?: number;
  thresholds?: TierThresholds;
}

/**
 * `trust:` — scores, tiers, decay, freshness and signal kinds. Decay is lazy:
 * when trust is read, the score has moved `points` toward the baseline for
 * every whole `per` since it last changed (never past the baseline).
 */
export interface TrustConfig {
  initial: number;
  thresholds: TierThresholds;
  /** Absent: no decay. `toward` absent: each agent's initial score. */
  decay?: { toward?: number; perMs: number; points: number };
  /** `context.trust_fresh`: a signal or set confirmed the score within this long. */
  freshWithinMs: number;
  /** Every kind a signal may have (defaults, the broker's own, and the configured ones). */
  signals: SignalKinds;
  /** `broker.denial_burst` fires after `count` denials of one agent within `withinMs`. */
  denialBurst: { count: number; withinMs: number };
}

export interface OperatorConfig {
  name: string;
  id: string;
  roles: readonly OperatorRole[];
}

/** `approvals.<group>`: who may approve what a permit's `@obligation("approval:<group>")` asks for. */
export interface ApprovalGroupConfig {
  name: string;
  /** Operators with the role approver; an agent's owner among them never decides that agent's requests. */
  approvers: readonly string[];
  /** Distinct approvals needed (default 1); any one denial rejects. */
  required: number;
  /** How long a request waits for its decision and then for its redemption (default 15 min). */
  expiresMs: number;
}

/** A witness the broker asks to cosign its checkpoints (c2sp.org/tlog-witness). */
export interface WitnessEndpointConfig {
  /** The witness's submission prefix (http or https, no query). */
  url: string;
  /** Its cosigner verifier key (Ed25519 cosignature, type 0x04). */
  key: string;
  /** Extra CA certificates (PEM file) for an https witness. */
  ca?: string;
}

export interface EvidenceConfig {
  origin: string;
  signingKey: string;
  /** After a key rotation, the previous key co-signs checkpoints for this long. */
  keyOverlapMs: number;
  witnesses: readonly WitnessEndpointConfig[];
}

/** `policy:` — how decisions are made (the policies themselves are in `policies:`). */
export interface PolicyConfig {
  /** The decision cache's bound in bytes; 0 turns it off. */
  cacheBytes: number;
}

/** `metrics:` — how the Prometheus metrics are labelled. */
export interface MetricsConfig {
  /** The `agent` label is used only while the configured agents number at most this (default 100). */
  agentLabelLimit: number;
}

export interface BrokerConfig {
  file: string;
  devMode: boolean;
  listen: HostPort;
  healthListen?: HostPort;
  /** Prometheus metrics over HTTPS with client certificates (role auditor); absent: not served. */
  metricsListen?: HostPort;
  metrics: MetricsConfig;
  tls: { ca: string; cert: string; key: string };
  state: StateConfig;
  evidence: EvidenceConfig;
  limits: Limits;
  server: ServerConfig;
  backends: Readonly<Record<string, BackendConfig>>;
  secrets: Readonly<Record<string, SecretConfig>>;
  actions: Readonly<Record<string, ActionConfig>>;
  agents: Readonly<Record<string, AgentConfig>>;
  operators: Readonly<Record<string, OperatorConfig>>;
  approvals: Readonly<Record<string, ApprovalGroupConfig>>;
  policies: string;
  policy: PolicyConfig;
  trust: TrustConfig;
  /** Absent: the defaults (lock_ttl 5m). */
  rotation?: RotationSettings;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
}
