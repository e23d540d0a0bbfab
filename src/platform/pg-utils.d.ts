/** pg's own preparation of a query parameter (pg/lib/utils.js), which has no type declarations of its own. */
declare module 'pg/lib/utils.js' {
  /** The value as pg sends it: null, text, or a Buffer sent as binary. */
  export function prepareValue(value: unknown): unknown;
}
