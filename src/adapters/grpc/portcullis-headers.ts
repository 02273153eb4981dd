const PREFIX = 'x-portcullis-';

/**
 * True for a header name in Portcullis' namespace (x-portcullis-*, any case): one the client sent, which the
 * upstream must never see as if Portcullis had set it. The one test both header encodings go through.
 */
export function isPortcullisHeader(name: string): boolean {
  if (name.length <= PREFIX.length) return false;
  for (let i = 0; i < PREFIX.length; i++) {
    // ASCII letters fold with | 0x20; '-' (0x2d) is unchanged by it and no other byte folds onto it.
    const c = name.charCodeAt(i);
    if ((c === 0x2d ? c : c | 0x20) !== PREFIX.charCodeAt(i)) return false;
  }
  return true;
}

/** Names in Portcullis' namespace among the request's headers (the merged view of either encoding). */
export function forgedPortcullisHeaders(headers: Readonly<Record<string, string>> | undefined): string[] {
  const out: string[] = [];
  if (headers) for (const k in headers) if (isPortcullisHeader(k)) out.push(k);
  return out;
}
