/** The root package.json, the one version source (bundled by the builder). */
declare module '*/package.json' {
  export const version: string;
}
