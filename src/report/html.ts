// The page around a report: self-contained HTML (inline CSS and SVG, no script, no fetch), with a Content
// Security Policy that lets the browser load nothing at all, so opening it offline shows all there is.

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content and attribute values. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** One figure: shown as label and value; `key` marks the value (data-figure) so tools can read the page. */
export interface FigureRow {
  readonly key: string;
  readonly label: string;
  readonly value: string | number;
}

export function figureTable(rows: readonly FigureRow[], caption?: string): string {
  const body = rows.map((r) => `<tr><th scope="row">${esc(r.label)}</th><td data-figure="${esc(r.key)}">${esc(r.value)}</td></tr>`).join('\n');
  return `<table class="figures">${caption ? `<caption>${esc(caption)}</caption>` : ''}\n${body}\n</table>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1000px; color: #1b1f24; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 36px; border-top: 1px solid #d0d7de; padding-top: 16px; }
.meta { color: #57606a; } table { border-collapse: collapse; margin: 12px 0; } caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; } th { background: #f6f8fa; font-weight: 600; }
td[data-figure] { font-variant-numeric: tabular-nums; } .met { color: #1a7f37; } .missed { color: #cf222e; font-weight: 600; }
svg { display: block; margin: 8px 0; } svg text { font: 11px system-ui, sans-serif; fill: #57606a; } .selected { font-weight: 700; }
`;

export function page(title: string, subtitle: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">${esc(subtitle)}</p>
${body}
</body>
</html>
`;
}
