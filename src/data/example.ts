// A labelled example as the trainer takes it, and the SMS Spam Collection's label names. No file
// access here: the browser bundle imports it (src/data/sms.ts reads files and downloads).

/** ham → 0, spam → 1 (the SMS Spam Collection's labels). */
export const LABELS = ["ham", "spam"];

export interface Example {
  text: string;
  /** The second text of a sentence pair (--text-pair-column). */
  textPair?: string;
  /** The label id: an index into the model's id2label. */
  label: number;
  /** The line (or row) it came from, for messages. */
  line: number;
}
