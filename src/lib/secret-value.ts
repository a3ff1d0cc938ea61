import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

/**
 * Holds secret bytes. Every way a value is normally printed (string
 * conversion, JSON, util.inspect, template literals) yields `[REDACTED]`, so an
 * accidental log line or error message cannot leak it. The bytes are only
 * reachable through `reveal()`/`revealString()`, which makes every real use easy
 * to grep for.
 */
export class SecretValue {
  readonly #bytes: Buffer;

  /** Takes ownership of `bytes` (always a fresh, unpooled buffer so wipe() really clears it). */
  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromString(value: string): SecretValue {
    const b = Buffer.alloc(Buffer.byteLength(value, 'utf8'));
    b.write(value, 'utf8');
    return new SecretValue(b);
  }

  static fromBytes(value: Uint8Array): SecretValue {
    const b = Buffer.alloc(value.length);
    b.set(value);
    return new SecretValue(b);
  }

  /** A copy of the secret bytes. Callers must not log or return them. */
  reveal(): Buffer {
    return Buffer.from(this.#bytes);
  }

  revealString(): string {
    return this.#bytes.toString('utf8');
  }

  get length(): number {
    return this.#bytes.length;
  }

  equals(other: SecretValue): boolean {
    return this.#bytes.equals(other.#bytes);
  }

  /** Overwrites the bytes held here; the value is unusable afterwards. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
