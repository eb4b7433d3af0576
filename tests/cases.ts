// Tests written once and run twice: by `deno test`, and inside Chromium by the browser test page
// (tests/browser/), which imports the same modules and runs the same list.

/** A named test body that needs nothing from Deno. */
export interface TestCase {
  name: string;
  fn: () => void | Promise<void>;
}

/**
 * A `Deno.test` replacement for shareable test files: records each case in `list` (what the
 * browser page runs) and, under Deno, registers it with `Deno.test` as usual.
 */
export function caseRegistry(list: TestCase[]): (name: string, fn: TestCase["fn"]) => void {
  return (name, fn) => {
    list.push({ name, fn });
    const deno = (globalThis as { Deno?: typeof Deno }).Deno;
    deno?.test(name, fn);
  };
}
