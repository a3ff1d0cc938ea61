/**
 * A short, printable quote of agent-supplied text for an error message, so a
 * huge or binary input is never echoed back whole.
 */
export function quote(text: string, max = 40): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}
