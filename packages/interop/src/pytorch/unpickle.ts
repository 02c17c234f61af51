import { RecurError } from '@recur/core';

/**
 * A restricted unpickler: a pickle is a program for a stack machine whose GLOBAL and REDUCE opcodes call any Python
 * function by name. This one runs only the data opcodes (numbers, strings, tuples, lists, dicts, memo) and resolves
 * a GLOBAL through the caller's allow-list; any other name is refused before anything is built from it. Nothing is
 * ever executed: an allowed "callable" is a TypeScript function that builds a value.
 */

/** A Python tuple: a frozen array, told apart from a list. */
export type PickleTuple = readonly unknown[] & { readonly tuple: true };

/** What an allowed GLOBAL resolves to: called by REDUCE/NEWOBJ with the argument tuple; `build` takes BUILD's state. */
export interface AllowedGlobal {
  call(args: readonly unknown[]): unknown;
  build?(object: unknown, state: unknown): void;
}

export interface UnpickleOptions {
  /** 'module.name' -> what it is allowed to do; anything absent is refused by name. */
  readonly globals: ReadonlyMap<string, AllowedGlobal>;
  /** BINPERSID's resolver (torch: storages in the zip). */
  readonly persistentLoad: (pid: unknown) => unknown;
}

const refused = (what: string) =>
  new RecurError(
    'file',
    'a pickle of tensors, ordered dicts and plain values (torch.save of a state_dict)',
    what,
    'a pickle can run any code when Python loads it; Recur reads only the tensor-rebuild calls and plain data',
  );

/** A tuple value: frozen, tagged. */
export function pickleTuple(items: unknown[]): PickleTuple {
  return Object.freeze(Object.defineProperty(items, 'tuple', { value: true })) as unknown as PickleTuple;
}

export function isPickleTuple(v: unknown): v is PickleTuple {
  return Array.isArray(v) && (v as { tuple?: unknown }).tuple === true;
}

/** A resolved GLOBAL on the stack. */
class GlobalRef {
  constructor(
    readonly name: string,
    readonly allowed: AllowedGlobal,
  ) {}
}

/** A value built by an allowed call, remembered with its global so that BUILD can reach the global's `build`. */
const builtBy = new WeakMap<object, AllowedGlobal>();

const MARK = Symbol('mark');

/** Runs the pickle in `bytes` under the restrictions above and returns its value. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  try {
    return run(bytes, options);
  } catch (e) {
    if (e instanceof RecurError) throw e;
    throw refused(`a damaged pickle (${(e as Error).message})`); // invalid UTF-8, a malformed number
  }
}

function run(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;

  const need = (n: number) => {
    if (at + n > bytes.length) throw refused(`a pickle truncated at byte ${at} (${n} more bytes needed of ${bytes.length})`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const i32 = () => view.getInt32(need(4), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = () => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) throw refused(`a length of ${v} in a pickle of ${bytes.length} bytes`);
    return Number(v);
  };
  const raw = (n: number) => bytes.subarray(need(n), at);
  const line = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw refused(`a pickle truncated in a text line at byte ${at}`);
    const s = latin1.decode(bytes.subarray(at, end));
    at = end + 1;
    return s;
  };
  // a value is due: never the MARK, never past the bottom of the stack
  const pop = () => {
    if (stack.length === 0) throw refused(`a pickle that pops an empty stack at byte ${at}`);
    const v = stack.pop();
    if (v === MARK) throw refused(`a MARK where a value is due at byte ${at - 1}`);
    return v;
  };
  const top = () => {
    if (stack.length === 0) throw refused(`a pickle that reads an empty stack at byte ${at}`);
    const v = stack[stack.length - 1];
    if (v === MARK) throw refused(`a MARK where a value is due at byte ${at - 1}`);
    return v;
  };
  const popMark = () => {
    const m = stack.lastIndexOf(MARK);
    if (m < 0) throw refused(`a pickle without the MARK its opcode at byte ${at - 1} needs`);
    const items = stack.splice(m);
    items.shift();
    return items;
  };
  const resolve = (module: string, name: string) => {
    const full = `${module}.${name}`;
    const allowed = options.globals.get(full);
    if (!allowed) throw refused(`a call of ${full}, which is not on the allow-list`);
    return new GlobalRef(full, allowed);
  };
  const call = (fn: unknown, args: unknown) => {
    if (!(fn instanceof GlobalRef)) throw refused(`a call of a ${describeValue(fn)}, not of an allowed global`);
    if (!isPickleTuple(args)) throw refused(`${fn.name} called with a ${describeValue(args)}, not a tuple`);
    const value = fn.allowed.call(args);
    if (value !== null && typeof value === 'object') builtBy.set(value, fn.allowed);
    return value;
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) throw refused(`SETITEM on a ${describeValue(dict)}, not a dict`);
    if (items.length % 2) throw refused('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list) || isPickleTuple(list)) throw refused(`APPEND on a ${describeValue(list)}, not a list`);
    list.push(...items);
  };
  const get = (key: number) => {
    if (!memo.has(key)) throw refused(`a memo read of slot ${key}, never written`);
    return memo.get(key);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw refused('a pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length hint
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw refused(`a pickle that stops with ${stack.length} values on its stack`);
        return stack[0];
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP (of a value or, as Python allows, of a MARK)
        if (stack.at(-1) === MARK) stack.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x49: {
        // INT (text; "01"/"00" are True/False)
        const s = line().trim();
        stack.push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
        break;
      }
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4: little-endian two's complement
        const n = op === 0x8a ? u8() : u32();
        if (n > 8) throw refused(`an integer of ${n} bytes (a state_dict needs 8 at most)`);
        const b = raw(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT: big-endian
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(raw(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(raw(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(raw(u64())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(raw(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(raw(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(pickleTuple([]));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) throw refused(`TUPLE${n} on a stack of ${stack.length}`);
        const items = stack.splice(stack.length - n);
        if (items.includes(MARK)) throw refused(`TUPLE${n} over a MARK`);
        stack.push(pickleTuple(items));
        break;
      }
      case 0x74: // TUPLE
        stack.push(pickleTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop(),
          key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line(),
          name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop(),
          module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw refused('STACK_GLOBAL of non-strings');
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ: cls(*args), allowed or refused like a call
        const args = pop(),
          fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state), only where the global that made obj allows it
        const state = pop(),
          object = top();
        const allowed = object !== null && typeof object === 'object' ? builtBy.get(object) : undefined;
        if (!allowed?.build) throw refused(`BUILD (setting the state) of a ${describeValue(object)}`);
        allowed.build(object, state);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(options.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        stack.push(options.persistentLoad(line()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(get(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(u32()));
        break;
      case 0x67: // GET (text)
        stack.push(get(Number.parseInt(line(), 10)));
        break;
      default:
        throw refused(`pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at - 1} (not one a state_dict needs)`);
    }
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof GlobalRef) return `global ${v.name}`;
  if (v instanceof Map) return 'dict';
  if (isPickleTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}
