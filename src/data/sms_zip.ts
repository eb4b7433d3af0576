// The default --data of `deno task train`: the UCI SMS Spam Collection zip, from the cache, a
// local copy beside the checkout, or the web (Deno only: it downloads and hashes with node:crypto,
// so it stays out of src/data/sms.ts, which the web page bundles).
import { fetchSmsZip } from "../io/download.ts";
import { loadSms } from "./sms.ts";

export const DATA_CACHE = new URL("../../data/cache", import.meta.url).pathname;
const SHARED_ZIP = new URL("../../../shared/data/smsspamcollection.zip", import.meta.url).pathname;

/** The default --data: the UCI zip from the cache, a local copy, or the web; checked on arrival. */
export function defaultSmsZip(cacheDir = DATA_CACHE, url?: string): Promise<string> {
  return fetchSmsZip(cacheDir, {
    mirror: url ? undefined : SHARED_ZIP,
    url,
    verify: async (f) => (await loadSms(f)).length,
  });
}
