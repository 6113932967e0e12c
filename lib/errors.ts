/**
 * The one error type tessera throws. `code` says what kind of mistake it was;
 * the message always reads "Expected <what> for <name> but received <value>".
 */
export type ErrorCode =
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_DEVICE'
  | 'E_ARGUMENT'
  | 'E_DISPOSED'
  | 'E_OOM'
  | 'E_UNSUPPORTED'
  | 'E_BACKEND'
  | 'E_INTERNAL';

export class TesseraError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'TesseraError';
    this.code = code;
  }
}

/** Renders a received value for an error message, briefly and unambiguously. */
export function describe(value: unknown, depth = 0): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    return Object.is(value, -0) ? '-0' : String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'boolean' || typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    if (depth >= 2) return '[…]';
    const items = value.slice(0, 8).map((v) => describe(v, depth + 1));
    return `[${items.join(', ')}${value.length > 8 ? ', …' : ''}]`;
  }
  if (ArrayBuffer.isView(value)) return `${/^[AEIO]/.test(value.constructor.name) ? 'an' : 'a'} ${value.constructor.name} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  const described = (value as { describe?: () => string }).describe;
  if (typeof described === 'function') return described.call(value);
  const ctor = (value as object).constructor;
  return ctor && ctor !== Object ? `a ${ctor.name}` : 'an object';
}

/** Throws TesseraError(code, "Expected <what> for <name> but received <value>"). */
export function fail(code: ErrorCode, what: string, name: string, received: unknown): never {
  throw new TesseraError(code, `Expected ${what} for ${name} but received ${describe(received)}`);
}

/** Like fail, with the received part already written (e.g. a shape or a reason). */
export function failRaw(code: ErrorCode, what: string, name: string, received: string): never {
  throw new TesseraError(code, `Expected ${what} for ${name} but received ${received}`);
}
