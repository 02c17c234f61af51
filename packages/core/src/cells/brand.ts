import type { Cell } from './multi.js';

/** Marks cell objects, so that code which runs cells can recognise them without importing the cell classes. */
export const CELL = Symbol.for('recur.cell');

export function isCell(value: unknown): value is Cell {
  return typeof value === 'object' && value !== null && (value as { [CELL]?: unknown })[CELL] === true;
}
