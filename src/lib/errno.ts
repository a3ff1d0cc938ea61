/** The errno code of a Node file-system error (`ENOENT`, `EACCES`, ...), for messages and branching. */
export function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
