// YAML (and JSON, which is YAML) read against a zod schema, with errors that point into the file:
// "<file>:<line>:<column>: <field path>: <reason>". Scenarios and alert rule files use it.
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { PerfError } from './errors.js';

export type Path = (string | number)[];

export interface Located<T> {
  data: T;
  /** throws a PERF_ERR_USAGE located at the deepest existing node of the path */
  fail: (path: Path, message: string) => never;
  /** "file:line:col" of the deepest existing node of the path */
  where: (path: Path) => string;
}

export function fieldName(p: Path): string {
  return p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : String(k)), '') || '(top level)';
}

export function parseYaml<S extends z.ZodTypeAny>(text: string, file: string, schema: S): Located<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new PerfError('PERF_ERR_USAGE', `${at(e.pos[0])}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
  }
  const where = (p: Path): string => {
    // the deepest node that exists on the path tells the line
    for (let i = p.length; i >= 0; i--) {
      const node = doc.getIn(p.slice(0, i), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return file;
  };
  const fail = (p: Path, message: string): never => {
    throw new PerfError('PERF_ERR_USAGE', `${where(p)}: ${fieldName(p)}: ${message}`);
  };
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // a union failing on every branch: report the branch that got furthest
    const deep = issue.code === 'invalid_union' ? (issue.unionErrors.flatMap((u) => u.issues).sort((a, b) => b.path.length - a.path.length)[0] ?? issue) : issue;
    if (deep.code === 'unrecognized_keys') fail([...deep.path, deep.keys[0]], `unknown field "${deep.keys[0]}"${deep.keys.length > 1 ? ` (and ${deep.keys.slice(1).join(', ')})` : ''}`);
    fail(deep.path, deep.message);
  }
  return { data: parsed.data, fail, where };
}
