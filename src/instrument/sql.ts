// Query fingerprints: the statement with every literal replaced by "?", comments dropped,
// whitespace collapsed and lists of placeholders folded, so `WHERE id = 7` and `WHERE id = 8` are
// one series and no customer data (emails, card numbers in a literal) ever leaves the app. Bind
// parameters ($1) are kept. One pass over the text; results are cached per distinct statement.

export interface QueryFingerprint {
  /** sanitised statement text (db.query.text) */
  text: string;
  /** first keyword, upper case (db.operation.name) */
  operation: string;
  /** first table after FROM / INTO / UPDATE / JOIN, if any (db.collection.name) */
  collection: string | undefined;
}

const MAX_TEXT = 1024;
const isIdent = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/** Replaces literals with "?"; keeps identifiers, keywords, operators and $n parameters. */
export function sanitizeSql(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  let space = false;
  const emit = (s: string) => {
    if (space && out.length > 0) out += ' ';
    space = false;
    out += s;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      space = true;
      i++;
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      // -- comment to end of line
      while (i < n && sql.charCodeAt(i) !== 10) i++;
      space = true;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      // /* comment */, nested as PostgreSQL allows
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--;
          i += 2;
        } else i++;
      }
      space = true;
    } else if (c === 39 || ((c === 69 || c === 101 || c === 66 || c === 98 || c === 88 || c === 120 || c === 78 || c === 110) && sql.charCodeAt(i + 1) === 39 && (i === 0 || !isIdent(sql.charCodeAt(i - 1))))) {
      // 'string', E'escaped', B'bits', X'hex', N'national'
      const backslash = c === 69 || c === 101;
      i += c === 39 ? 1 : 2;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (backslash && d === 92) i += 2;
        else if (d === 39) {
          if (sql.charCodeAt(i + 1) === 39) i += 2;
          else {
            i++;
            break;
          }
        } else i++;
      }
      emit('?');
    } else if (c === 36 && !isDigit(sql.charCodeAt(i + 1)) && (i === 0 || !isIdent(sql.charCodeAt(i - 1)))) {
      // $tag$ dollar-quoted string $tag$
      const close = sql.indexOf('$', i + 1);
      const tag = close > 0 ? sql.slice(i, close + 1) : '';
      if (tag && /^\$[A-Za-z_]?[A-Za-z0-9_]*\$$/.test(tag)) {
        const end = sql.indexOf(tag, close + 1);
        i = end < 0 ? n : end + tag.length;
        emit('?');
      } else {
        emit('$');
        i++;
      }
    } else if (c === 36) {
      // $1 bind parameter: kept
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      emit(sql.slice(i, j));
      i = j;
    } else if (c === 34) {
      // "quoted identifier": kept
      let j = i + 1;
      while (j < n && !(sql.charCodeAt(j) === 34 && sql.charCodeAt(j + 1) !== 34)) j += sql.charCodeAt(j) === 34 ? 2 : 1;
      emit(sql.slice(i, j + 1));
      i = j + 1;
    } else if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      // number: 42, 3.14, .5, 1e-3, 0x1F
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (isIdent(d) || d === 46 || ((d === 43 || d === 45) && (sql.charCodeAt(j - 1) | 32) === 101)) j++;
        else break;
      }
      emit('?');
      i = j;
    } else if (isIdent(c)) {
      let j = i + 1;
      while (j < n && isIdent(sql.charCodeAt(j))) j++;
      emit(sql.slice(i, j));
      i = j;
    } else {
      // operators and punctuation; no space before , ) or after (
      if (c === 44 || c === 41) space = false;
      emit(sql[i]);
      if (c === 40) space = false;
      i++;
    }
    if (out.length > MAX_TEXT * 2) break;
  }
  return foldLists(out);
}

/** `IN (?, ?, ?)` → `IN (...)`, `VALUES (?, ?), (?, ?)` → `VALUES (...)`: one series however many items. */
function foldLists(s: string): string {
  let t = s.replace(/\((?:\?|\$\d+)(?:, ?(?:\?|\$\d+))+\)/g, '(...)');
  t = t.replace(/\(\.\.\.\)(?:, ?\(\.\.\.\))+/g, '(...)');
  t = t.replace(/\((?:\?|\$\d+)\)(?:, ?\((?:\?|\$\d+)\))+/g, '(...)');
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t;
}

const COLLECTION = /\b(?:FROM|INTO|UPDATE|JOIN)\s+((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)/i;

export function fingerprint(sql: string): QueryFingerprint {
  const text = sanitizeSql(sql);
  const op = /^[A-Za-z]+/.exec(text)?.[0]?.toUpperCase() ?? 'UNKNOWN';
  const coll = COLLECTION.exec(text)?.[1];
  return { text, operation: op, collection: coll?.replace(/"/g, '') };
}

/** A value per statement text; bounded (apps that inline literals produce endless texts). */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly max: number,
    private readonly load: (key: string) => V,
  ) {}
  get(key: string): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = this.load(key);
      // starting over is cheaper than LRU bookkeeping, and statements rarely number in thousands
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, v);
    }
    return v;
  }
}

export class FingerprintCache extends BoundedCache<QueryFingerprint> {
  constructor(max = 2000) {
    super(max, fingerprint);
  }
}
