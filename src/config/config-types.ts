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

export type BackendConfig =
  | { kind: 'local'; name: string; path: string; keyFile: string }
  | { kind: 'vault'; name: string; address: string; tokenFile: string; mount: string; caFile?: string }
  | { kind: 'aws-secrets-manager'; name: string; region: string; endpoint?: string }
  | { kind: 'postgres'; name: string; urlSecret: { backend: string; name: string } };

export interface RotationConfig {
  everyMs: number;
  generator: { kind: 'random'; length: number };
}

export interface SecretConfig {
  name: string;
  backend: string;
  /** The name (local, vault) or id (aws) inside the backend. */
  ref: string;
  field?: string;
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
}

export interface ActionConfig {
  name: string;
  http?: HttpActionConfig;
  postgres?: PostgresActionConfig;
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
  budget?: { field: string; perMs: number };
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
  owner?: string;
  limits: Limits;
}

export interface OperatorConfig {
  name: string;
  id: string;
  roles: readonly OperatorRole[];
}

export interface ApprovalGroupConfig {
  name: string;
  approvers: readonly string[];
  required: number;
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

export interface BrokerConfig {
  file: string;
  devMode: boolean;
  listen: HostPort;
  healthListen?: HostPort;
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
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
}
