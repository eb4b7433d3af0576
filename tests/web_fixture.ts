// Driving the web page (web/) in headless Chromium for tests/web_test.ts and web_page_test.ts:
// one launch with the flags that give it WebGPU, the page's uncaught errors collected, and the
// inputs set as a user's edits would set them.
/// <reference lib="dom" />
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { CHROMIUM, FLAGS } from "../tools/browser.ts";

/** Resolves once `fn` (a JS expression evaluated in the page) is truthy; throws after `timeout` ms. */
export async function waitFor(page: Page, fn: string, timeout = 60_000): Promise<void> {
  await (await page.waitForFunction(fn, { timeout, polling: 100 })).dispose();
}

/** The text of the element with this id. */
export const text = (page: Page, id: string): Promise<string> =>
  page.$eval(`#${id}`, (e) => e.textContent ?? "");

/** Sets an input's (or select's) value as a user's edit would: the value, then a change event. */
export async function setValue(page: Page, id: string, value: string | number): Promise<void> {
  await page.$eval(`#${id}`, (e, v) => {
    (e as HTMLInputElement).value = String(v);
    e.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}

/** A Chromium with one page, the errors thrown in it, and `close()`, which also removes its profile. */
export interface WebSession {
  browser: Browser;
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

/**
 * Launches the system Chromium (tools/browser.ts CHROMIUM; callers skip when it is null) with a
 * fresh profile and opens one page, not yet navigated. `protocolTimeout` in ms bounds one CDP call
 * (a training run waited on from the page is one).
 */
export async function openWebSession(
  opts: { protocolTimeout: number; viewport?: { width: number; height: number } },
): Promise<WebSession> {
  const profile = await Deno.makeTempDir({ prefix: "webgpu-bert-chromium-" });
  const removeProfile = () => Deno.remove(profile, { recursive: true }).catch(() => {});
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM!,
      headless: true,
      args: [...FLAGS, `--user-data-dir=${profile}`],
      ignoreDefaultArgs: ["--disable-gpu"],
      protocolTimeout: opts.protocolTimeout,
      ...(opts.viewport ? { defaultViewport: opts.viewport } : {}),
    });
  } catch (e) {
    await removeProfile();
    throw e;
  }
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String((e as Error).message ?? e)));
  return {
    browser,
    page,
    errors,
    close: async () => {
      await browser.close();
      await removeProfile();
    },
  };
}
