// Short messages people type for others (a knock's message, a refusal's reason), checked as
// the hub checks them (hub/web/signaling/client.py, clean_note) before they are sent, so that the
// person reads what to change in their own language. The hub decides all the same.

export const MAX_NOTE = 200;
const MARKUP = /<\s*\/?\s*[A-Za-z!?][^<>]*>/;
// Control and format characters, but the zero-width joiner inside emoji sequences.
const CONTROL = /(?!\u200d)[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u;

/** The text as the others will read it: one line, runs of spaces made one. */
export function cleanNote(value) {
  return value.split(/\s+/).filter(Boolean).join(" ");
}

/** The catalog key saying what is wrong with `text` (cleaned), or null if it may be sent. */
export function noteProblem(text) {
  if (text.length > MAX_NOTE) return "meeting.note.too_long";
  if (CONTROL.test(text)) return "meeting.note.control";
  if (MARKUP.test(text)) return "meeting.note.markup";
  return null;
}
