/**
 * The runtime guard at the kernel boundary: `comm_msg` data arrives as
 * `unknown` and leaves as a typed `KernelMessage`, checked field by field
 * against the tables generated from kernel_ext/lab/protocol.py.
 */
import {
  ENUM_VALUES,
  KERNEL_MESSAGE_FIELDS,
  KernelMessage,
  RECORD_FIELDS
} from './protocol';

/** The outcome of checking one message: the message, or why it was refused. */
export type ParseResult =
  | { ok: true; message: KernelMessage }
  | { ok: false; reason: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwn<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(table, key);
}

/** Why `value` is not of the protocol field type `type` (see protocol.py), or null if it is. */
function typeProblem(value: unknown, type: string, where: string): string | null {
  const alternatives = type.split('|');
  if (alternatives.length > 1) {
    const fits = alternatives.some(alt => typeProblem(value, alt, where) === null);
    return fits ? null : `${where}: expected ${type}, got ${describe(value)}`;
  }
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) {
      return `${where}: expected ${type}, got ${describe(value)}`;
    }
    const item = type.slice(0, -2);
    for (let i = 0; i < value.length; i++) {
      const problem = typeProblem(value[i], item, `${where}[${i}]`);
      if (problem !== null) {
        return problem;
      }
    }
    return null;
  }
  switch (type) {
    case 'null':
      return value === null ? null : `${where}: expected null, got ${describe(value)}`;
    case 'string':
    case 'boolean':
      return typeof value === type ? null : `${where}: expected ${type}, got ${describe(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
        ? null
        : `${where}: expected a finite number, got ${describe(value)}`;
  }
  if (hasOwn(ENUM_VALUES, type)) {
    const values = ENUM_VALUES[type];
    return typeof value === 'string' && values.includes(value)
      ? null
      : `${where}: expected one of ${values.join(', ')}, got ${describe(value)}`;
  }
  if (hasOwn(RECORD_FIELDS, type)) {
    return fieldsProblem(value, RECORD_FIELDS[type], where);
  }
  return `${where}: unknown field type ${type}`;
}

function fieldsProblem(
  value: unknown,
  fields: Record<string, string>,
  where: string
): string | null {
  if (!isObject(value)) {
    return `${where}: expected an object, got ${describe(value)}`;
  }
  for (const [name, type] of Object.entries(fields)) {
    if (!hasOwn(value, name)) {
      return `${where}.${name}: missing`;
    }
    const problem = typeProblem(value[name], type, `${where}.${name}`);
    if (problem !== null) {
      return problem;
    }
  }
  return null;
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  }
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * Check `data` (a comm message's `data`) against the protocol.
 *
 * Extra fields are allowed (a newer kernel may add some); missing or
 * mistyped declared fields, unknown types and non-objects are refused.
 */
export function parseKernelMessage(data: unknown): ParseResult {
  if (!isObject(data)) {
    return { ok: false, reason: `expected a JSON object, got ${describe(data)}` };
  }
  const type = data.type;
  if (typeof type !== 'string' || !hasOwn(KERNEL_MESSAGE_FIELDS, type)) {
    const declared = Object.keys(KERNEL_MESSAGE_FIELDS).join(', ');
    return { ok: false, reason: `unknown message type ${describe(type)}; declared: ${declared}` };
  }
  const problem = fieldsProblem(data, KERNEL_MESSAGE_FIELDS[type], type);
  if (problem !== null) {
    return { ok: false, reason: problem };
  }
  // Every declared field was checked above: this is the one narrowing cast.
  return { ok: true, message: data as unknown as KernelMessage };
}
