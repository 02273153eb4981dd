/**
 * The MSG part of one syslog message, which for Portcullis is one JSON access-log line. Accepts
 * - RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG] (optional UTF-8 BOM);
 * - RFC 3164 (what nginx and ingress-nginx send): <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG — header fields are
 *   not validated, since senders vary (ISO timestamps, no hostname); the MSG is the JSON object after them;
 * - a bare JSON line, without any syslog header (Caddy's `net` log writer, log shippers).
 * Returns undefined when the line is none of these; never throws.
 */
export function syslogPayload(line: string): string | undefined {
  let i = 0;
  const n = line.length;
  if (n === 0) return undefined;
  const first = line.charCodeAt(0);
  if (first === 0x7b /* { */) return line;
  if (first !== 0x3c /* < */) return undefined;

  // PRI: 1-3 digits, at most 191 (facility 23, severity 7).
  i = 1;
  let pri = 0;
  while (i < n && i <= 4) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    pri = pri * 10 + (c - 0x30);
    i++;
  }
  if (i === 1 || i > 4 || line.charCodeAt(i) !== 0x3e /* > */ || pri > 191) return undefined;
  i++;

  if (line.charCodeAt(i) === 0x31 /* 1 */ && line.charCodeAt(i + 1) === 0x20) return rfc5424Msg(line, i + 2);
  // RFC 3164: the JSON object starts at the first "{" after the header (hostnames and tags have none).
  const brace = line.indexOf('{', i);
  return brace === -1 ? undefined : line.slice(brace);
}

/** After "<PRI>1 ": skip TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, then STRUCTURED-DATA, then MSG. */
function rfc5424Msg(line: string, start: number): string | undefined {
  let i = start;
  for (let field = 0; field < 5; field++) {
    const sp = line.indexOf(' ', i);
    if (sp === -1 || sp === i) return undefined;
    i = sp + 1;
  }
  const n = line.length;
  if (line.charCodeAt(i) === 0x2d /* - */) {
    i++;
  } else {
    // One or more SD-ELEMENTs: [id param="value" ...]; inside values, \" \\ and \] are escapes.
    if (line.charCodeAt(i) !== 0x5b /* [ */) return undefined;
    while (i < n && line.charCodeAt(i) === 0x5b) {
      i++;
      let quoted = false;
      for (;;) {
        if (i >= n) return undefined;
        const c = line.charCodeAt(i);
        if (quoted && c === 0x5c /* \ */) i += 2;
        else {
          if (c === 0x22 /* " */) quoted = !quoted;
          else if (c === 0x5d /* ] */ && !quoted) break;
          i++;
        }
      }
      i++; // past "]"
    }
  }
  if (i >= n) return undefined; // no MSG
  if (line.charCodeAt(i) !== 0x20) return undefined;
  i++;
  if (line.charCodeAt(i) === 0xfeff) i++; // BOM, as a decoded UTF-8 string
  return line.slice(i);
}
