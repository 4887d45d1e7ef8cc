/** One line the operator typed, split into the session label and the reply. */
export interface ReplyLine {
  label: string;
  /** The reply text, or a command such as `/close`. */
  text: string;
}

/**
 * Splits `<label> <reply text>` at the first run of spaces. Returns undefined for a blank
 * line; `text` is empty when only a label was typed.
 */
export function parseReplyLine(line: string): ReplyLine | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  const match = /^(\S+)\s*(.*)$/s.exec(trimmed);
  if (!match) return undefined;
  return { label: match[1]!.replace(/^\[|\]$/g, ''), text: match[2]! };
}
