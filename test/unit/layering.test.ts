import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The layering each folder's README states ("May import …; types from …") holds in the imports: a folder of
// src/supervisor imports only what its README allows, types only where it says types, and the allowed values
// point one way (no folder reaches back up through another). And the platform seam is the only way to the
// operating system's Linux-only parts: src/platform imports nothing else of src, and no code outside it names
// /proc or /sys or calls prctl.
const SUPERVISOR = path.join(import.meta.dirname, '../../src/supervisor');
const SRC = path.dirname(SUPERVISOR);
const PLATFORM = path.join(SRC, 'platform');
const folders = readdirSync(SUPERVISOR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

interface Use {
  place: string;
  typeOnly: boolean;
  line: string;
}

/** Where a resolved import lands: `proc/` for a folder of src/supervisor, `src/common` for one of src. */
function placeOf(target: string): string {
  const inSupervisor = path.relative(SUPERVISOR, target);
  const [first = ''] = (inSupervisor.startsWith('..') ? path.relative(SRC, target) : inSupervisor).split(path.sep);
  return inSupervisor.startsWith('..') ? `src/${first.replace(/\.[jt]s$/, '')}` : `${first}/`;
}

/** The files below `dir` whose names end with one of `exts`. */
function filesIn(dir: string, exts: readonly string[]): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .map((f) => path.join(dir, f));
}

/** Every relative import of a file (static, dynamic, `typeof import()`, re-export), with whether it is types only. */
function usesOf(file: string): Use[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const uses: Use[] = [];
  const add = (spec: ts.Node, typeOnly: boolean): void => {
    if (!ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    const line = `${path.relative(SUPERVISOR, file)}:${source.getLineAndCharacterOfPosition(spec.getStart()).line + 1}`;
    uses.push({ place: placeOf(path.resolve(path.dirname(file), spec.text)), typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

/** What a folder's README allows: the sentence "May import a, b and c; types from d." */
function allowed(folder: string): { values: Set<string>; types: Set<string> } {
  const readme = readFileSync(path.join(SUPERVISOR, folder, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const sentence = /May import (.*?)\.(?: |$)/.exec(readme.replace(/`[^`]*`/g, (quoted) => quoted.replaceAll('.', '\0')))?.[1];
  if (!sentence) throw new Error(`${folder}/README.md has no "May import …." sentence`);
  const [values = '', types = ''] = sentence.split(/\btypes\b/);
  const names = (part: string) => new Set([...part.matchAll(/`([^`]+)`/g)].map(([, name = '']) => name.replaceAll('\0', '.')));
  return { values: names(values), types: names(types) };
}

describe('the layering of src/supervisor', () => {
  it.each(folders)('%s/ imports only what its README allows', (folder) => {
    const { values, types } = allowed(folder);
    const dir = path.join(SUPERVISOR, folder);
    const uses = readdirSync(dir).filter((f) => f.endsWith('.ts')).flatMap((f) => usesOf(path.join(dir, f)));
    const wrong = uses
      .filter((u) => u.place !== `${folder}/` && !values.has(u.place) && !(u.typeOnly && types.has(u.place)))
      .map((u) => `${u.line} imports ${u.typeOnly ? 'types from ' : ''}${u.place}`);
    expect(wrong).toEqual([]);
  });

  it('the imports the READMEs allow point one way', () => {
    const edges = new Map(folders.map((f) => [`${f}/`, [...allowed(f).values].filter((p) => p.endsWith('/'))]));
    const cycle = (from: string, seen: string[]): string[] | undefined => {
      if (seen.includes(from)) return [...seen.slice(seen.indexOf(from)), from];
      for (const to of edges.get(from) ?? []) {
        const found = cycle(to, [...seen, from]);
        if (found) return found;
      }
      return undefined;
    };
    for (const folder of edges.keys()) expect(cycle(folder, [])).toBeUndefined();
  });
});

// A path into procfs or sysfs (`/proc/…`, `'proc/meminfo'` joined to a root, `/sys/fs/…`), not a module of
// src/supervisor/proc (`../proc/tree.js`) nor a route (`/processes`).
const LINUX_PATH = /(?:^|[^.\w/])\/?proc(?:\/|$)|(?:^|[^.\w/])\/?sys\/(?:fs|class|kernel|devices)\b/;
const LINUX_CALLS = new Set(['prctl', 'pipe2', 'setpriv', 'SO_PEERCRED']);

/** The strings (string and template literal parts) and the names that code uses, each with its line. */
function codeTokens(file: string, code = readFileSync(file, 'utf8')): { text: string; line: string }[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true);
  const tokens: { text: string; line: string }[] = [];
  const visit = (node: ts.Node): void => {
    const text =
      ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node) || ts.isIdentifier(node) || ts.isPrivateIdentifier(node)
        ? node.text
        : undefined;
    if (text !== undefined) tokens.push({ text, line: `${path.relative(SRC, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}` });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return tokens;
}

describe('the platform seam', () => {
  const outside = (file: string) => path.relative(PLATFORM, file).startsWith('..');

  it('src/platform imports nothing of src outside itself', () => {
    const wrong = filesIn(PLATFORM, ['.ts'])
      .flatMap(usesOf)
      .filter((u) => u.place !== 'src/platform')
      .map((u) => `${u.line} imports ${u.place}`);
    expect(wrong).toEqual([]);
  });

  it('no code outside src/platform reads /proc or /sys or makes a Linux-only call', () => {
    const code = filesIn(SRC, ['.ts', '.cts', '.mts']).filter(outside);
    const wrong = code.flatMap((file) =>
      codeTokens(file)
        .filter(({ text }) => LINUX_PATH.test(text) || LINUX_CALLS.has(text))
        .map(({ text, line }) => `${line}: ${text}`),
    );
    const scripts = filesIn(SRC, ['.sh']).filter(outside);
    const inScripts = scripts.filter((file) => readFileSync(file, 'utf8').split('\n').some((l) => !l.trimStart().startsWith('#') && LINUX_PATH.test(l)));
    expect([...wrong, ...inScripts]).toEqual([]);
    expect(code.length).toBeGreaterThan(50);
  });

  it.each([
    ["readFileSync('/proc/self/stat')", true],
    ['`/proc/${pid}/fd`', true],
    ["path.join(root, 'proc/meminfo')", true],
    ["'/sys/fs/cgroup'", true],
    ["import('../proc/tree.js')", false],
    ["'/processes'", false],
  ])('the check sees %s: %s', (snippet, seen) => {
    expect(codeTokens(path.join(SRC, 'x.ts'), snippet).some(({ text }) => LINUX_PATH.test(text))).toBe(seen);
  });
});
