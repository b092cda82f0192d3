// The page rewriter the optimization middleware applies to one route's HTML (issue "lazy loading":
// loading="lazy" below the fold, fetchpriority="high" on the LCP image, defer where safe, width/height).
// It is not a DOM: one pass finds start tags the way a browser's tokenizer does — comments, raw text
// (<script> with its <!-- escapes, <style>, <title>, <textarea>, <noscript> as with scripting on),
// quoting, duplicate attributes (first wins) — and edits only the <img> and <script> tags it must.
// Every other byte is copied as it is, so a page it does not understand passes through unchanged.
// Relative URLs are read against "/" (the page's own URL is not known here).

export interface PageRewrite {
  /** <img> elements in document order (0-based) from this index on get loading="lazy" decoding="async" — unless they already carry a loading attribute, or are priorityImage */
  lazyFrom?: number;
  /** document-order index of the LCP image: fetchpriority="high"; a loading="lazy" on it is removed */
  priorityImage?: number;
  /** src paths (query string ignored, compared as URL paths) of classic render-blocking <script src> that get `defer` */
  deferScripts?: string[];
  /** width/height for <img> that have neither, by src: `src` is a route template ("/images/products/:id.png") */
  imageSizes?: { src: string; width: number; height: number }[];
}
export interface RewriteResult { html: string; changes: { lazy: number; priority: number; deferred: number; sized: number } }
export interface PageImage { index: number; src: string; attrs: Record<string, string> }
export interface PageScript { index: number; src?: string; inHead: boolean; async: boolean; defer: boolean; module: boolean; /** a classic script without src (JSON/ld+json and other non-JS types excluded) */ inline: boolean }

interface Attr { name: string; value: string; start: number; end: number }
/** a start or end tag; `at` is where new attributes go (after the last one), -1 when that is unsafe */
interface Tag { name: string; end: number; at: number; attrs: Attr[]; endTag: boolean }
interface Script extends PageScript { tag: Tag; classic: boolean; writes: boolean }
interface Edit { from: number; to: number; text: string }

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13;
const isAlpha = (c: number) => (c | 32) >= 97 && (c | 32) <= 122;
const ends = (c: number) => isSpace(c) || c === 47 || c === 62; // whitespace, "/", ">"
const attr = (t: Tag, name: string) => t.attrs.find((a) => a.name === name);
/** elements whose content is text up to their end tag (RCDATA and RAWTEXT alike for us) */
const RAW = new Map(['style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript'].map((n) => [n, new RegExp(`</${n}[\\t\\n\\f\\r />]`, 'gi')]));
const COMMENT_END = /--!?>/g;
const SCRIPT_TOKENS = /<!--(-*>)?|-->|<(\/?)script[\t\n\f\r />]/gi;
const JS_TYPE = /^(?:(?:application|text)\/(?:x-)?(?:java|ecma)script|text\/javascript1\.[0-5]|text\/(?:jscript|livescript))$/;
const PLAIN_PATH = /^(\/(?!\/)[\w\-.~/]*)(?:[?#]|$)/;
const ENTITY = /&(?:#(\d{1,7});?|#x([0-9a-f]{1,6});?|(amp|lt|gt|quot|apos);)/gi;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

const skipSpace = (html: string, i: number) => {
  while (isSpace(html.charCodeAt(i))) i++; // NaN past the end stops it
  return i;
};
/** character references in attribute values: numeric ones and the five of XML (named ones are case-sensitive: &AMP; stays) */
function decode(v: string): string {
  if (!v.includes('&')) return v;
  return v.replace(ENTITY, (m, dec?: string, hex?: string, name?: string) => {
    if (name) return NAMED[name] ?? m;
    const cp = dec ? Number(dec) : parseInt(hex as string, 16);
    return cp === 0 || cp > 0x10ffff ? '\uFFFD' : String.fromCodePoint(cp);
  });
}

/** Reads a tag whose name starts at `from`; undefined when the document ends inside it (browsers drop it). */
function readTag(html: string, from: number, endTag: boolean): Tag | undefined {
  const n = html.length;
  let q = from;
  while (q < n && !ends(html.charCodeAt(q))) q++;
  const name = html.slice(from, q).toLowerCase();
  const keep = !endTag && (name === 'img' || name === 'script'); // attributes are kept only where we read them
  const t: Tag = { name, end: 0, at: q, attrs: [], endTag };
  while (q < n) {
    const c = html.charCodeAt(q);
    if (isSpace(c)) q++;
    else if (c === 62) return ((t.end = q + 1), t);
    else if (c === 47) {
      if (html.charCodeAt(q + 1) === 62) return ((t.end = q + 2), t);
      q++; // a "/" not before ">" is ignored
    } else {
      const start = q++; // the first character may be "=": part of the name
      while (q < n && !ends(html.charCodeAt(q)) && html.charCodeAt(q) !== 61) q++;
      const nameEnd = q;
      let r = skipSpace(html, q);
      let value = '';
      if (html.charCodeAt(r) === 61) {
        r = skipSpace(html, r + 1);
        const quote = html.charCodeAt(r);
        if (quote === 34 || quote === 39) {
          const e = html.indexOf(quote === 34 ? '"' : "'", r + 1);
          if (e === -1) return undefined;
          if (keep) value = html.slice(r + 1, e);
          q = e + 1;
        } else {
          let e = r;
          while (e < n && html.charCodeAt(e) !== 62 && !isSpace(html.charCodeAt(e))) e++;
          if (keep) value = html.slice(r, e);
          // `x=>`: an attribute inserted after it would become x's value, so this tag is left alone
          if (e === r) t.at = -1;
          q = e;
        }
      }
      if (keep) t.attrs.push({ name: html.slice(start, nameEnd).toLowerCase(), value: decode(value), start, end: q });
      if (t.at !== -1) t.at = q;
    }
  }
  return undefined;
}

/**
 * Where a script's text ends: the first `</script` + whitespace, "/" or ">", except inside `<!-- <script>`
 * (the tokenizer's "double escaped" state: there `</script>` only closes the inner one, as browsers do).
 */
function scriptEnd(html: string, from: number): number {
  let state = 0; // 0 text, 1 after "<!--", 2 after "<!-- ... <script"
  SCRIPT_TOKENS.lastIndex = from;
  for (let m; (m = SCRIPT_TOKENS.exec(html)); ) {
    if (m[0].startsWith('<!--')) state = m[1] !== undefined ? 0 : state || 1;
    else if (m[0] === '-->') state = 0;
    else if (m[2]) {
      if (state !== 2) return m.index;
      state = 1;
    } else if (state === 1) state = 2;
  }
  return html.length;
}

function scan(html: string, visit: (t: Tag, contentEnd: number) => void): void {
  const n = html.length;
  for (let i = html.indexOf('<'); i !== -1 && i < n; i = html.indexOf('<', i)) {
    const c = html.charCodeAt(i + 1);
    if (c === 33 && html.startsWith('<!--', i)) {
      const p = i + 4; // "<!-->" and "<!--->" are (empty) comments too
      if (html.charCodeAt(p) === 62) i = p + 1;
      else if (html.startsWith('->', p)) i = p + 2;
      else {
        COMMENT_END.lastIndex = p;
        i = COMMENT_END.exec(html) ? COMMENT_END.lastIndex : n;
      }
    } else if (c === 33 || c === 63 || (c === 47 && !isAlpha(html.charCodeAt(i + 2)))) {
      const e = html.indexOf('>', i + 2); // doctype, <?...>, </...>: bogus comments up to ">"
      i = e === -1 ? n : e + 1;
    } else if (c === 47 || isAlpha(c)) {
      const t = readTag(html, c === 47 ? i + 2 : i + 1, c === 47);
      if (!t) return;
      const raw = t.endTag ? undefined : RAW.get(t.name);
      if (raw) raw.lastIndex = t.end;
      i = t.endTag ? t.end : t.name === 'script' ? scriptEnd(html, t.end) : raw ? (raw.exec(html)?.index ?? n) : t.name === 'plaintext' ? n : t.end;
      visit(t, i);
    } else i++;
  }
}

function parse(html: string): { imgs: Tag[]; scripts: Script[] } {
  const imgs: Tag[] = [];
  const scripts: Script[] = [];
  let inHead = true; // "head" ends at the <body> start tag or </head>, whichever comes first
  scan(html, (t, contentEnd) => {
    if (t.name === 'body' || (t.endTag && t.name === 'head')) inHead = false;
    else if (t.endTag) return;
    else if (t.name === 'img') imgs.push(t);
    else if (t.name === 'script') {
      const lang = attr(t, 'language')?.value;
      const type = (attr(t, 'type')?.value ?? (lang ? `text/${lang}` : '')).trim().toLowerCase();
      const src = attr(t, 'src')?.value;
      const classic = type === '' || JS_TYPE.test(type);
      const inline = classic && src === undefined;
      const writes = inline && /document\s*\.\s*write/.test(html.slice(t.end, contentEnd));
      scripts.push({ index: scripts.length, src, inHead, async: !!attr(t, 'async'), defer: !!attr(t, 'defer'), module: type === 'module', inline, tag: t, classic, writes });
    }
  });
  return { imgs, scripts };
}

/** A URL as what a src is compared by: host (when it names one) and path, without query or fragment. */
function urlKey(src: string): { host?: string; path: string } | undefined {
  const path = PLAIN_PATH.exec(src)?.[1]; // "/images/1.png?w=3" needs no URL parser (a third of the rewrite time of a 200 KB grid page)
  if (path !== undefined && !path.includes('/.')) return { path };
  if (!src.trim()) return undefined;
  try {
    const u = new URL(src.trim(), 'http://base.invalid/');
    return { host: u.host === 'base.invalid' ? undefined : u.host, path: u.pathname };
  } catch {
    return undefined;
  }
}

function srcMatcher(srcs: string[]): (src: string | undefined) => boolean {
  const keys = srcs.map(urlKey).filter((k) => k !== undefined);
  return (src) => {
    const k = src === undefined ? undefined : urlKey(src);
    return !!k && keys.some((e) => e.path === k.path && (!e.host || !k.host || e.host === k.host));
  };
}

/**
 * "/images/products/:id.png" → ^/images/products/[^/]+\.png$. Unlike templateMatcher (middleware.ts),
 * which lets a parameter take its whole segment, the text after the parameter's name must match too:
 * a size measured on the .png files must not be given to the other files in that folder.
 */
function imageMatcher(template: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${template.split('/').map((seg) => (seg.startsWith(':') ? `[^/]+${esc(seg.replace(/^:\w*/, ''))}` : esc(seg))).join('/')}$`);
}

/**
 * Which candidates can take defer, walking back from the end: a classic script that stays parser-blocking
 * (inline, or external and not itself deferred) would run before a deferred one it may need. Async and
 * module scripts never promised to run after it. Returns, per candidate index, undefined (ok) or why not.
 */
function deferPlan(scripts: Script[], candidate: (s: Script) => boolean): Map<number, string | undefined> {
  const plan = new Map<number, string | undefined>();
  let blocker: string | undefined;
  for (let k = scripts.length - 1; k >= 0; k--) {
    const s = scripts[k];
    if (!s.classic || s.async || s.defer) continue;
    if (candidate(s)) {
      plan.set(k, blocker);
      if (!blocker) continue;
    }
    if (s.writes) blocker = 'document.write is called after it';
    else if (s.inline) blocker = 'an inline script after it may use what it defines';
    else blocker = `the blocking script ${s.src} after it may need it; defer both`;
  }
  return plan;
}

function removeAttr(html: string, a: Attr): Edit {
  // the space before it goes too, unless what follows could then join what precedes (`alt loading=lazy/>`)
  let from = a.start;
  const next = html.charCodeAt(a.end);
  if (isSpace(next) || next === 62) while (isSpace(html.charCodeAt(from - 1))) from--;
  return { from, to: a.end, text: '' };
}

export function rewriteHtml(html: string, r: PageRewrite): RewriteResult {
  const { imgs, scripts } = parse(html);
  const changes = { lazy: 0, priority: 0, deferred: 0, sized: 0 };
  const edits: Edit[] = [];
  const sizes = (r.imageSizes ?? []).filter((s) => Number.isInteger(s.width) && Number.isInteger(s.height) && s.width > 0 && s.height > 0).map((s) => ({ ...s, match: imageMatcher(s.src) }));
  imgs.forEach((t, i) => {
    if (t.at === -1) return;
    let add = '';
    const loading = attr(t, 'loading');
    if (i === r.priorityImage) {
      const lazy = loading?.value.toLowerCase() === 'lazy';
      if (lazy) for (const a of t.attrs) if (a.name === 'loading') edits.push(removeAttr(html, a));
      if (!attr(t, 'fetchpriority')) add += ' fetchpriority="high"';
      if (lazy || add) changes.priority++;
    } else if (r.lazyFrom !== undefined && i >= r.lazyFrom && !loading) {
      add += attr(t, 'decoding') ? ' loading="lazy"' : ' loading="lazy" decoding="async"';
      changes.lazy++;
    }
    const src = attr(t, 'src')?.value;
    if (sizes.length && src !== undefined && !attr(t, 'width') && !attr(t, 'height')) {
      const path = urlKey(src)?.path;
      const size = path === undefined ? undefined : sizes.find((s) => s.match.test(path));
      if (size) {
        add += ` width="${size.width}" height="${size.height}"`;
        changes.sized++;
      }
    }
    if (add) edits.push({ from: t.at, to: t.at, text: add });
  });
  if (r.deferScripts?.length) {
    const wanted = srcMatcher(r.deferScripts);
    for (const [k, why] of deferPlan(scripts, (s) => s.tag.at !== -1 && wanted(s.src))) {
      if (why !== undefined) continue;
      const at = scripts[k].tag.at;
      edits.push({ from: at, to: at, text: ' defer' });
      changes.deferred++;
    }
  }
  if (!edits.length) return { html, changes };
  let out = '';
  let pos = 0;
  for (const e of edits.sort((a, b) => a.from - b.from)) {
    out += html.slice(pos, e.from) + e.text;
    pos = e.to;
  }
  return { html: out + html.slice(pos), changes };
}

export function pageImages(html: string): PageImage[] {
  return parse(html).imgs.map((t, index) => {
    const attrs: Record<string, string> = {};
    for (const a of t.attrs) if (!(a.name in attrs)) attrs[a.name] = a.value;
    return { index, src: attrs.src ?? '', attrs };
  });
}

export function pageScripts(html: string): PageScript[] {
  return parse(html).scripts.map(({ index, src, inHead, async, defer, module, inline }) => ({ index, ...(src !== undefined && { src }), inHead, async, defer, module, inline }));
}

/**
 * Whether adding defer to the script with this src is safe: it is classic (no type=module, no async/defer
 * already) and no inline classic script and no document.write/document.writeln appear after it (an inline
 * script after it may use what it defines before the deferred script has run). A parser-blocking
 * external script after it blocks it too, unless that one is in `together` (deferred at the same time).
 */
export function canDefer(html: string, src: string, together: string[] = []): { ok: boolean; why?: string } {
  const { scripts } = parse(html);
  const isIt = srcMatcher([src]);
  const s = scripts.find((x) => isIt(x.src));
  if (!s) return { ok: false, why: `no <script src> with path ${urlKey(src)?.path ?? src} on the page` };
  if (s.module) return { ok: false, why: 'it is a module script: deferred already' };
  if (!s.classic) return { ok: false, why: 'it is not a JavaScript script' };
  if (s.async || s.defer) return { ok: false, why: `it has ${s.async ? 'async' : 'defer'} already` };
  const also = srcMatcher(together);
  const why = deferPlan(scripts, (x) => x === s || (x.tag.at !== -1 && also(x.src))).get(s.index);
  return why === undefined ? { ok: true } : { ok: false, why };
}
