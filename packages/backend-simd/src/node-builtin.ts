/** Whether this runs on Node.js (else a browser or a Worker there). */
export const inNode = (): boolean => typeof globalThis.process?.versions?.node === 'string';

/**
 * A Node built-in, imported only when running on Node: the specifier is a variable so that browser bundlers
 * (esbuild, Vite, webpack) leave it alone instead of failing to resolve it.
 */
export function nodeBuiltin<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ name) as Promise<T>;
}
