import * as path from 'node:path';
import ts from 'typescript';

/**
 * Finds mutable module-level state (DESIGN invariant 9: "There is no
 * module-level state"). Module level means the statements of a source file
 * (and the static members of its classes), which live as long as the process
 * and are shared by every broker built in it. The rule, precisely:
 *
 * 1. `let` and `var` at module level are state (they can be reassigned).
 * 2. A module-level `const` is state when its value is a mutable container:
 *    - its type is `Map`, `Set`, `WeakMap`, `WeakSet` or a mutable array
 *      (`T[]`, `Array<T>`) — typing it `ReadonlyMap`, `ReadonlySet` or
 *      `readonly T[]` makes the compiler refuse every write, so that is fine;
 *    - or it is initialised with an object or array literal that is neither
 *      wrapped in `Object.freeze(...)` nor marked `as const`, unless its
 *      declared type is `Readonly<...>`/`readonly ...`/`ReadonlyArray`;
 *    - or it is a regular expression with the `g` or `y` flag (it carries
 *      `lastIndex` from one use to the next).
 * 3. A `static` class property is state unless it is `readonly` and its value
 *    passes rule 2.
 *
 * Functions, classes, frozen tables and primitives are not state. What the
 * rule cannot see (a `const` holding an object whose class has mutable fields,
 * e.g. `const x = new Foo()`) is caught by rule 2 only for the collections
 * above; `new` of anything else at module level is reported too, since a
 * shared instance is exactly what invariant 9 forbids.
 */
export interface ModuleStateFinding {
  file: string;
  line: number;
  name: string;
  why: string;
}

const MUTABLE_COLLECTIONS = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'Array']);

export function findModuleState(files: readonly string[], root: string): ModuleStateFinding[] {
  const program = ts.createProgram(files as string[], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const out: ModuleStateFinding[] = [];
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`cannot read ${file}`);
    const report = (node: ts.Node, name: string, why: string): void => {
      out.push({ file: path.relative(root, file), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, name, why });
    };
    const visitStatements = (statements: readonly ts.Statement[]): void => {
      for (const st of statements) {
        if (ts.isVariableStatement(st)) {
          const isConst = (st.declarationList.flags & ts.NodeFlags.Const) !== 0;
          for (const d of st.declarationList.declarations) {
            const name = d.name.getText(sf);
            if (!isConst) {
              report(d, name, `module-level ${st.declarationList.flags & ts.NodeFlags.Let ? 'let' : 'var'}`);
              continue;
            }
            const why = mutableValue(d, checker, sf);
            if (why) report(d, name, why);
          }
        } else if (ts.isClassDeclaration(st)) {
          for (const m of st.members) {
            if (!ts.isPropertyDeclaration(m)) continue;
            const mods = ts.getModifiers(m) ?? [];
            if (!mods.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
            const name = `${st.name?.getText(sf) ?? '(class)'}.${m.name.getText(sf)}`;
            if (!mods.some((x) => x.kind === ts.SyntaxKind.ReadonlyKeyword)) {
              report(m, name, 'static property that is not readonly');
              continue;
            }
            const why = mutableValue(m, checker, sf);
            if (why) report(m, name, why);
          }
        } else if (ts.isBlock(st)) {
          visitStatements(st.statements);
        } else if (ts.isIfStatement(st) || ts.isTryStatement(st)) {
          // Module-level blocks still declare module-level bindings with var; `let` in them is scoped, but report it anyway.
          st.forEachChild((c) => {
            if (ts.isBlock(c)) visitStatements(c.statements);
          });
        }
      }
    };
    visitStatements(sf.statements);
  }
  return out;
}

function strip(e: ts.Expression): { expr: ts.Expression; asConst: boolean } {
  let asConst = false;
  for (;;) {
    if (ts.isParenthesizedExpression(e)) e = e.expression;
    else if (ts.isAsExpression(e) || ts.isTypeAssertionExpression(e)) {
      if (ts.isTypeReferenceNode(e.type) && e.type.typeName.getText() === 'const') asConst = true;
      e = e.expression;
    } else if (ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    else return { expr: e, asConst };
  }
}

function isFreezeCall(e: ts.Expression): boolean {
  return ts.isCallExpression(e) && /^(Object\.freeze|deepFreeze)$/.test(e.expression.getText());
}

function declaredReadonly(type: ts.TypeNode | undefined, sf: ts.SourceFile): boolean {
  if (!type) return false;
  const t = type.getText(sf);
  return /^(Readonly<|ReadonlyArray<|ReadonlyMap<|ReadonlySet<|readonly )/.test(t);
}

function mutableValue(d: ts.VariableDeclaration | ts.PropertyDeclaration, checker: ts.TypeChecker, sf: ts.SourceFile): string | undefined {
  const typeName = collectionName(checker.getTypeAtLocation(d.name));
  if (typeName) return `a module-level ${typeName} (type it Readonly${typeName === 'Array' ? 'Array' : typeName}, or keep it in an object the composition root builds)`;
  if (!d.initializer) return undefined;
  const { expr, asConst } = strip(d.initializer);
  if (isFreezeCall(expr) || asConst || declaredReadonly(d.type, sf)) return undefined;
  if (ts.isObjectLiteralExpression(expr)) return 'a module-level object literal that is not frozen (Object.freeze, or as const)';
  if (ts.isArrayLiteralExpression(expr)) return 'a module-level array literal that is not frozen (Object.freeze, or as const)';
  if (ts.isRegularExpressionLiteral(expr) && /\/[a-z]*[gy][a-z]*$/.test(expr.text)) return 'a module-level regular expression with the g or y flag (it keeps lastIndex between uses)';
  if (ts.isNewExpression(expr)) return `a module-level instance (new ${expr.expression.getText(sf)}) shared by every broker in the process`;
  return undefined;
}

function collectionName(t: ts.Type): string | undefined {
  const sym = t.getSymbol() ?? t.aliasSymbol;
  const name = sym?.getName();
  if (name && MUTABLE_COLLECTIONS.has(name)) return name;
  if (t.isUnion()) for (const u of t.types) {
    const n = collectionName(u);
    if (n) return n;
  }
  return undefined;
}
