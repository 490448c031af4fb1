/**
 * fast-check arbitraries from JSON Schema, for the subset the OpenAPI document uses: $ref, const,
 * examples, type (one or several, `null` included), string length and pattern, integer range,
 * boolean, arrays, objects with properties/required, oneOf/anyOf, and an object's allOf groups of
 * "required + property" branches (the document's cross-field rules). No maintained npm package
 * derives fast-check arbitraries from JSON Schema 2020-12 with oneOf/if-then, so this is small and
 * local; what it generates is judged by a real validator (Ajv), never by this file.
 *
 * Values of a schema with `examples` are drawn from them: a pattern can say digits and length,
 * but only examples are possible phone numbers. `overrides` supplies what the document cannot know
 * (server-local paths inside the allowlist, linked usernames, the caller's API key).
 */
import fc from 'fast-check';

export type Schema = { [key: string]: unknown };

export interface SchemaArbitraryOptions {
  resolve(ref: string): Schema;
  overrides?: Record<string, fc.Arbitrary<unknown>>;
}

const MAX_ARRAY = 8;
const SHORT_STRING = 40;

const codePoints = (s: string) => [...s].length;

function stringArbitrary(schema: Schema): fc.Arbitrary<string> {
  const min = (schema.minLength as number | undefined) ?? 0;
  const max = (schema.maxLength as number | undefined) ?? SHORT_STRING * 4;
  const pattern = schema.pattern as string | undefined;
  const regex = pattern === undefined ? undefined : new RegExp(pattern, 'u');
  const sized = (lo: number, hi: number) => fc.string({ unit: 'binary', minLength: lo, maxLength: hi });
  // Mostly short; sometimes right at the upper bound, where off-by-one and UTF-16 bugs live.
  const lengths: fc.Arbitrary<string> = fc.oneof(
    { arbitrary: sized(min, Math.min(max, Math.max(min, SHORT_STRING))), weight: 5 },
    { arbitrary: sized(Math.max(min, max - 2), max), weight: 1 },
  );
  if (!regex) return lengths;
  // A pattern that random text rarely meets (`^\s*$`, `\S`) is generated from the pattern itself.
  const fromPattern = fc.stringMatching(regex).filter((s) => codePoints(s) >= min && codePoints(s) <= max);
  return fc.oneof(
    lengths.filter((s) => regex.test(s)),
    fromPattern,
  );
}

function integerArbitrary(schema: Schema): fc.Arbitrary<number> {
  const min = (schema.minimum as number | undefined) ?? -1_000_000;
  const max = (schema.maximum as number | undefined) ?? 1_000_000;
  if (min >= -(2 ** 31) && max < 2 ** 31) return fc.integer({ min, max });
  return fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);
}

function typedArbitrary(type: string, schema: Schema, options: SchemaArbitraryOptions): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'string':
      return stringArbitrary(schema);
    case 'integer':
      return integerArbitrary(schema);
    case 'number':
      return fc.oneof(integerArbitrary(schema), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case 'array': {
      const items = schema.items ? schemaArbitrary(schema.items as Schema, options) : fc.anything();
      const minLength = (schema.minItems as number | undefined) ?? 0;
      const maxLength = Math.min((schema.maxItems as number | undefined) ?? MAX_ARRAY, Math.max(minLength, MAX_ARRAY));
      return fc.array(items, { minLength, maxLength });
    }
    case 'object':
      return objectArbitrary(schema, options);
    default:
      throw new Error(`schema-arbitrary: type ${type} is not supported`);
  }
}

/** Any value the schema describes (nulls rarer than the other types). */
export function schemaArbitrary(schema: Schema, options: SchemaArbitraryOptions): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === 'string') return schemaArbitrary({ ...options.resolve(schema.$ref), ...withoutKey(schema, '$ref') }, options);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.examples) && schema.type !== 'object') return fc.constantFrom(...(schema.examples as unknown[]));
  const branches = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (branches && schema.type !== 'object') {
    // A branch narrows the schema around it (e.g. `type` outside, `maxLength` in the branch).
    const base = withoutKey(withoutKey(schema, 'oneOf'), 'anyOf');
    return fc.oneof(...branches.map((b) => schemaArbitrary({ ...base, ...b }, options)));
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : undefined;
  if (!types) return fc.anything();
  return fc.oneof(...types.map((t) => ({ arbitrary: typedArbitrary(t, schema, options), weight: t === 'null' ? 1 : 6 })));
}

function withoutKey(schema: Schema, key: string): Schema {
  const { [key]: _dropped, ...rest } = schema;
  return rest;
}

interface Branch {
  required: string[];
  properties: Record<string, Schema>;
}

/**
 * An object: for each allOf group of branches, one branch is chosen and its required properties
 * are present (with the branch's narrower schema, e.g. `self: const true`); other properties come
 * and go, and those that belong to an unchosen branch of a oneOf group come rarely (several
 * recipient forms are a refused request, not the common case).
 */
function objectArbitrary(schema: Schema, options: SchemaArbitraryOptions): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const groups: { exclusive: boolean; branches: Branch[] }[] = [];
  for (const part of (schema.allOf ?? []) as Schema[]) {
    const branches = (part.oneOf ?? part.anyOf) as Schema[] | undefined;
    if (!branches) continue;
    groups.push({
      exclusive: part.oneOf !== undefined,
      branches: branches.map((b) => ({
        required: (b.required ?? []) as string[],
        properties: (b.properties ?? {}) as Record<string, Schema>,
      })),
    });
  }
  const choices = fc.tuple(...groups.map((g) => fc.integer({ min: 0, max: g.branches.length - 1 })));
  return choices.chain((picked) => {
    const forced = new Map<string, Schema>();
    const rare = new Set<string>();
    groups.forEach((g, i) => {
      g.branches.forEach((b, j) => {
        for (const name of b.required) {
          if (j === picked[i]) forced.set(name, { ...properties[name], ...b.properties[name] });
          else if (g.exclusive) rare.add(name);
        }
      });
    });
    for (const name of (schema.required ?? []) as string[]) if (!forced.has(name)) forced.set(name, properties[name] ?? {});
    const entries = Object.keys(properties).map((name) => {
      const override = options.overrides?.[name];
      const value = (s: Schema) => override ?? schemaArbitrary(s, options).filter((v) => !forced.has(name) || v !== null || 'const' in s);
      if (forced.has(name))
        return fc.tuple(
          fc.constant(name),
          value(forced.get(name)!).map((v) => ({ v })),
        );
      const presence = rare.has(name) ? fc.integer({ min: 0, max: 15 }).map((n) => n === 0) : fc.boolean();
      return fc.tuple(
        fc.constant(name),
        presence.chain((p) => (p ? value(properties[name]!).map((v): { v: unknown } | undefined => ({ v })) : fc.constant(undefined))),
      );
    });
    return fc.tuple(...entries).map((pairs) => {
      const out: Record<string, unknown> = {};
      for (const [name, holder] of pairs) if (holder !== undefined) out[name] = holder.v;
      return out;
    });
  });
}
