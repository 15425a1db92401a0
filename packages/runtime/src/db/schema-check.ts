import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { getDMMF } from "@prisma/get-dmmf";
import pg from "pg";
import { migrationsTableName } from "./migrate.ts";

export type CheckSchemaOptions = {
  /** A schema.prisma file, or a folder of .prisma files (Prisma's multi-file schema). */
  schemaPath: string;
  /** A database the service's migrations were applied to, and nothing else. */
  databaseUrl: string;
  /** Postgres schema holding models without @@schema; defaults to the connection's current schema. */
  databaseSchema?: string;
};

/**
 * Proves that a service's schema.prisma and its migrations describe the same database,
 * without Prisma's schema engine (a binary this environment cannot download).
 *
 * The schema is parsed by Prisma's own parser compiled to WebAssembly
 * (@prisma/get-dmmf), and compared with the Postgres catalog of a fresh database the
 * migrations were applied to: models and tables (@@map), fields and columns (@map) with
 * type (native types included), nullability and whether the database supplies a
 * default; enums; primary keys; unique and plain indexes (columns, order, method, and
 * name where the schema names one); foreign keys with their referential actions; and no
 * tables, columns, enums, unique indexes or foreign keys the schema does not know.
 *
 * Partial and expression indexes are ignored because Prisma cannot express them, so
 * migrations may add them freely. Returns one human-readable line per difference; an
 * empty list means the two agree.
 */
export async function checkSchemaMatchesDatabase(options: CheckSchemaOptions): Promise<string[]> {
  const schemaFiles = await readSchemaFiles(options.schemaPath);
  const datamodel = parseSchema(schemaFiles, options.schemaPath);
  const unsupportedColumns = findUnsupportedColumns(schemaFiles);
  const client = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    const defaultSchema =
      options.databaseSchema ?? (await client.query<{ schema: string }>("SELECT current_schema() AS schema")).rows[0]?.schema;
    if (defaultSchema === undefined || defaultSchema === null) {
      throw new Error("the connection has no current schema; pass databaseSchema");
    }
    const schemas = [...new Set([defaultSchema, ...datamodel.models.flatMap((model) => model.schema ?? [])])];
    const catalog = await readCatalog(client, schemas);
    return compare(datamodel, catalog, defaultSchema, unsupportedColumns);
  } finally {
    await client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// The parts of Prisma's DMMF datamodel the check reads.

type DmmfDefault = { name: string; args: unknown[] } | string | number | boolean | unknown[];

type DmmfField = {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "object" | "enum" | "unsupported";
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: DmmfDefault;
  type: string;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
};

type DmmfModel = { name: string; dbName: string | null; schema: string | null; fields: DmmfField[] };

type DmmfIndex = {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  dbName?: string | null;
  algorithm?: string;
  fields: Array<{ name: string; sortOrder?: "asc" | "desc" }>;
};

type DmmfEnum = { name: string; dbName?: string | null; values: Array<{ name: string; dbName?: string | null }> };

type Datamodel = { models: DmmfModel[]; enums: DmmfEnum[]; indexes: DmmfIndex[] };

type SchemaFile = [path: string, content: string];

async function readSchemaFiles(schemaPath: string): Promise<SchemaFile[]> {
  if (!(await stat(schemaPath)).isDirectory()) return [[schemaPath, await readFile(schemaPath, "utf8")]];
  const files: SchemaFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "migrations") await walk(path);
      else if (entry.isFile() && entry.name.endsWith(".prisma")) files.push([path, await readFile(path, "utf8")]);
    }
  };
  await walk(schemaPath);
  if (files.length === 0) throw new Error(`no .prisma files under ${schemaPath}`);
  return files.sort(([a], [b]) => (a < b ? -1 : 1));
}

function parseSchema(files: SchemaFile[], schemaPath: string): Datamodel {
  const document = getDMMF({ datamodel: files.length === 1 ? (files[0]?.[1] ?? "") : files });
  if ("datamodel" in document) return document.datamodel as unknown as Datamodel;
  let reason = document.error instanceof Error ? document.error.message : String(document.reason);
  try {
    // The wasm parser reports a JSON object whose message is coloured for a terminal.
    reason = (JSON.parse(reason) as { message?: string }).message ?? reason;
  } catch {
    // Not JSON: use it as it is.
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes.
  throw new Error(`cannot parse the Prisma schema ${schemaPath}:\n${reason.replace(/\u001b\[[0-9;]*m/g, "")}`);
}

/**
 * Fields of type Unsupported("...") are left out of the DMMF, yet their columns exist.
 * They are found in the schema text, so their columns are accepted (unchecked) rather
 * than reported as unknown.
 */
function findUnsupportedColumns(files: SchemaFile[]): Map<string, Set<string>> {
  const byModel = new Map<string, Set<string>>();
  for (const [, content] of files) {
    const modelPattern = /^\s*model\s+(\w+)\s*\{([\s\S]*?)^\s*\}/gm;
    for (const match of content.matchAll(modelPattern)) {
      const [, modelName = "", body = ""] = match;
      for (const line of body.split("\n")) {
        const field = /^\s*(\w+)\s+Unsupported\(/.exec(line);
        if (field === null) continue;
        const mapped = /@map\(\s*(?:name:\s*)?"([^"]+)"\s*\)/.exec(line);
        const columns = byModel.get(modelName) ?? new Set<string>();
        columns.add(mapped?.[1] ?? field[1] ?? "");
        byModel.set(modelName, columns);
      }
    }
  }
  return byModel;
}

// ---------------------------------------------------------------------------------------
// The Postgres catalog, read once.

type CatalogColumn = {
  table: string;
  name: string;
  type: string;
  enum_name: string | null;
  is_array: boolean;
  not_null: boolean;
  has_default: boolean;
};

type CatalogIndex = {
  table: string;
  name: string;
  is_primary: boolean;
  is_unique: boolean;
  is_partial_or_expression: boolean;
  method: string;
  columns: string[];
  descending: boolean[];
};

type CatalogForeignKey = {
  table: string;
  name: string;
  ref_table: string;
  columns: string[];
  ref_columns: string[];
  on_delete: string;
  on_update: string;
};

type Catalog = {
  tables: string[];
  columns: CatalogColumn[];
  indexes: CatalogIndex[];
  foreignKeys: CatalogForeignKey[];
  enums: Array<{ name: string; values: string[] }>;
};

// Tables are keyed "schema.table" so several Postgres schemas can be checked at once.
async function readCatalog(client: pg.Client, schemas: string[]): Promise<Catalog> {
  const tables = await client.query<{ table: string }>(
    `SELECT n.nspname || '.' || c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    [schemas],
  );
  const columns = await client.query<CatalogColumn>(
    `SELECT n.nspname || '.' || c.relname AS table, a.attname::text AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN t.typtype = 'e' THEN t.typname::text WHEN et.typtype = 'e' THEN et.typname::text END AS enum_name,
            t.typcategory = 'A' AS is_array,
            a.attnotnull AS not_null,
            (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY 1, a.attnum`,
    [schemas],
  );
  const indexes = await client.query<CatalogIndex>(
    `SELECT n.nspname || '.' || t.relname AS table, ic.relname::text AS name,
            i.indisprimary AS is_primary, i.indisunique AS is_unique,
            (i.indpred IS NOT NULL OR i.indexprs IS NOT NULL) AS is_partial_or_expression,
            am.amname::text AS method,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns,
            ARRAY(SELECT (o.option & 1) = 1 FROM unnest(i.indoption::int2[]) WITH ORDINALITY o(option, ord)
                   WHERE o.ord <= i.indnkeyatts ORDER BY o.ord) AS descending
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_am am ON am.oid = ic.relam
      WHERE n.nspname = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'x')`,
    [schemas],
  );
  const foreignKeys = await client.query<CatalogForeignKey>(
    `SELECT n.nspname || '.' || t.relname AS table, c.conname::text AS name,
            rn.nspname || '.' || rt.relname AS ref_table,
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns,
            c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_class rt ON rt.oid = c.confrelid
       JOIN pg_namespace rn ON rn.oid = rt.relnamespace
      WHERE c.contype = 'f' AND n.nspname = ANY($1)`,
    [schemas],
  );
  const enums = await client.query<{ name: string; values: string[] }>(
    `SELECT n.nspname || '.' || t.typname AS name,
            ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS values
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype = 'e' AND n.nspname = ANY($1)`,
    [schemas],
  );
  return {
    tables: tables.rows.map((row) => row.table),
    columns: columns.rows,
    indexes: indexes.rows,
    foreignKeys: foreignKeys.rows,
    enums: enums.rows,
  };
}

// ---------------------------------------------------------------------------------------
// The comparison.

// Prisma scalar types without a native type attribute, as Prisma Migrate creates them.
const defaultColumnTypes: Record<string, string> = {
  String: "text",
  Boolean: "boolean",
  Int: "integer",
  BigInt: "bigint",
  Float: "double precision",
  Decimal: "numeric(65,30)",
  DateTime: "timestamp(3) without time zone",
  Json: "jsonb",
  Bytes: "bytea",
};

// Defaults Prisma Client computes itself; Prisma Migrate gives these columns no default.
const clientSideDefaults = new Set(["uuid", "cuid", "nanoid", "ulid"]);

// pg_constraint.confdeltype / confupdtype letters.
const referentialActions: Record<string, string> = {
  Cascade: "c",
  Restrict: "r",
  NoAction: "a",
  SetNull: "n",
  SetDefault: "d",
};

/** The column type Postgres reports (format_type) for a Prisma scalar field. */
function expectedScalarType(field: DmmfField): string {
  const [native, args = []] = field.nativeType ?? [];
  const [first, second] = args;
  let base: string | undefined;
  switch (native) {
    case undefined:
      base = defaultColumnTypes[field.type];
      break;
    case "Text":
    case "Xml":
    case "Inet":
    case "Citext":
    case "Uuid":
    case "Money":
    case "Date":
    case "Boolean":
    case "SmallInt":
    case "Integer":
    case "Oid":
    case "BigInt":
    case "Real":
    case "Json":
      base = native.toLowerCase();
      break;
    case "DoublePrecision":
      base = "double precision";
      break;
    case "JsonB":
      base = "jsonb";
      break;
    case "ByteA":
      base = "bytea";
      break;
    case "Char":
      base = `character(${first ?? 1})`;
      break;
    case "VarChar":
      base = first === undefined ? "character varying" : `character varying(${first})`;
      break;
    case "Bit":
      base = `bit(${first ?? 1})`;
      break;
    case "VarBit":
      base = first === undefined ? "bit varying" : `bit varying(${first})`;
      break;
    case "Decimal":
      base = first === undefined ? "numeric" : `numeric(${first},${second ?? 0})`;
      break;
    case "Timestamp":
    case "Timestamptz":
    case "Time":
    case "Timetz": {
      const name = native.startsWith("Timestamp") ? "timestamp" : "time";
      const zone = native.endsWith("tz") ? "with time zone" : "without time zone";
      base = `${name}${first === undefined ? "" : `(${first})`} ${zone}`;
      break;
    }
    default:
      base = native.toLowerCase();
  }
  return normaliseType(`${base ?? field.type.toLowerCase()}${field.isList ? "[]" : ""}`);
}

/** Precision 6 is Postgres's default for timestamps and times, so "(6)" says nothing. */
function normaliseType(type: string): string {
  return type.replace(/^(timestamp|time)\(6\)/, "$1");
}

function columnKey(table: string, column: string): string {
  return `${table}\u0000${column}`;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function compare(datamodel: Datamodel, catalog: Catalog, defaultSchema: string, unsupportedColumns: Map<string, Set<string>>): string[] {
  const differences: string[] = [];
  const tableOf = new Map<string, string>();
  for (const model of datamodel.models) {
    tableOf.set(model.name, `${model.schema ?? defaultSchema}.${model.dbName ?? model.name}`);
  }
  const columnOf = (model: DmmfModel, fieldName: string): string => {
    const field = model.fields.find((candidate) => candidate.name === fieldName);
    return field?.dbName ?? fieldName;
  };
  const modelTables = new Set(tableOf.values());
  // Only the runner's own table may exist without a model.
  const migrationsTable = `${defaultSchema}.${migrationsTableName}`;
  const modelsByName = new Map(datamodel.models.map((model) => [model.name, model]));
  const enumDbName = new Map(datamodel.enums.map((enumType) => [enumType.name, enumType.dbName ?? enumType.name]));
  const tables = new Set(catalog.tables);
  const columns = new Map(catalog.columns.map((column) => [columnKey(column.table, column.name), column]));
  const show = (table: string): string => (table.startsWith(`${defaultSchema}.`) ? table.slice(defaultSchema.length + 1) : table);

  // Enums: every Prisma enum is a Postgres enum type with the same values.
  const catalogEnums = new Map(catalog.enums.map((enumType) => [enumType.name, enumType.values]));
  const expectedEnums = new Set<string>();
  for (const enumType of datamodel.enums) {
    const key = `${defaultSchema}.${enumType.dbName ?? enumType.name}`;
    expectedEnums.add(key);
    const values = catalogEnums.get(key);
    const expected = enumType.values.map((value) => value.dbName ?? value.name);
    if (values === undefined) {
      differences.push(`enum ${enumType.name}: type ${show(key)} is missing from the database`);
    } else if (!sameList([...expected].sort(), [...values].sort())) {
      differences.push(
        `enum ${enumType.name}: schema has values [${expected.join(", ")}], database type ${show(key)} has [${values.join(", ")}]`,
      );
    }
  }
  for (const name of catalogEnums.keys()) {
    if (!expectedEnums.has(name)) differences.push(`enum type ${show(name)} exists in the database but not in the schema`);
  }

  // Tables and columns.
  const expectedColumns = new Set<string>();
  for (const model of datamodel.models) {
    const table = tableOf.get(model.name) ?? "";
    if (!tables.has(table)) {
      differences.push(`model ${model.name}: table ${show(table)} is missing from the database`);
      continue;
    }
    for (const unsupported of unsupportedColumns.get(model.name) ?? []) expectedColumns.add(columnKey(table, unsupported));
    for (const field of model.fields) {
      if (field.kind === "object") continue;
      const columnName = field.dbName ?? field.name;
      expectedColumns.add(columnKey(table, columnName));
      const where = `${model.name}.${field.name} (column ${show(table)}.${columnName})`;
      const column = columns.get(columnKey(table, columnName));
      if (column === undefined) {
        differences.push(`${where}: column is missing from the database`);
        continue;
      }
      if (field.kind === "enum") {
        const expectedEnum = enumDbName.get(field.type) ?? field.type;
        if (column.enum_name !== expectedEnum || column.is_array !== field.isList) {
          differences.push(`${where}: schema says enum ${expectedEnum}${field.isList ? "[]" : ""}, database has ${column.type}`);
        }
      } else {
        const expectedType = expectedScalarType(field);
        if (normaliseType(column.type) !== expectedType) {
          differences.push(`${where}: schema says ${expectedType}, database has ${column.type}`);
        }
      }
      // Prisma Migrate creates scalar-list columns without NOT NULL, so lists are not checked.
      if (!field.isList && field.isRequired !== column.not_null) {
        differences.push(
          field.isRequired
            ? `${where}: schema says required (${field.type}), database column is nullable`
            : `${where}: schema says optional (${field.type}?), database column is NOT NULL`,
        );
      }
      const defaultFunction =
        typeof field.default === "object" && field.default !== null && !Array.isArray(field.default) ? field.default.name : undefined;
      const databaseDefaultExpected = field.hasDefaultValue && !(defaultFunction !== undefined && clientSideDefaults.has(defaultFunction));
      // dbgenerated() without an argument says "the database does something the schema cannot describe".
      const eitherIsFine =
        defaultFunction === "dbgenerated" &&
        typeof field.default === "object" &&
        !Array.isArray(field.default) &&
        field.default.args.length === 0;
      if (!eitherIsFine && databaseDefaultExpected !== column.has_default) {
        differences.push(
          databaseDefaultExpected
            ? `${where}: schema gives a default the database must supply, but the column has none`
            : `${where}: the column has a database default that the schema does not declare`,
        );
      }
    }
  }
  for (const table of tables) {
    if (table !== migrationsTable && !modelTables.has(table)) {
      differences.push(`table ${show(table)} exists in the database but no model maps to it`);
    }
  }
  for (const column of catalog.columns) {
    if (!modelTables.has(column.table)) continue;
    if (!expectedColumns.has(columnKey(column.table, column.name))) {
      differences.push(`column ${show(column.table)}.${column.name} exists in the database but no field maps to it`);
    }
  }

  // Primary keys, unique indexes and plain indexes.
  const matchedIndexes = new Set<CatalogIndex>();
  for (const index of datamodel.indexes) {
    const model = modelsByName.get(index.model);
    const table = tableOf.get(index.model);
    if (model === undefined || table === undefined || !tables.has(table)) continue;
    const indexColumns = index.fields.map((field) => columnOf(model, field.name));
    const descending = index.fields.map((field) => field.sortOrder === "desc");
    const method = (index.algorithm ?? "BTree").toLowerCase();
    const label =
      index.type === "id"
        ? `primary key of ${index.model} (${indexColumns.join(", ")})`
        : `${index.type === "unique" ? "unique index" : "index"} on ${index.model} (${indexColumns.join(", ")})`;
    if (index.type === "fulltext") continue;
    const candidates = catalog.indexes.filter(
      (candidate) =>
        candidate.table === table &&
        !candidate.is_partial_or_expression &&
        candidate.is_primary === (index.type === "id") &&
        candidate.is_unique === (index.type !== "normal") &&
        sameList(candidate.columns, indexColumns),
    );
    const found = candidates.find((candidate) => !matchedIndexes.has(candidate));
    if (found === undefined) {
      const other = catalog.indexes.find((candidate) => candidate.table === table && index.type === "id" && candidate.is_primary);
      differences.push(
        other === undefined
          ? `${label}: missing from the database`
          : `${label}: the database's primary key is (${other.columns.join(", ")})`,
      );
      continue;
    }
    matchedIndexes.add(found);
    if (index.dbName !== undefined && index.dbName !== null && index.dbName !== found.name) {
      differences.push(`${label}: schema names it ${index.dbName}, database calls it ${found.name}`);
    }
    if (index.type === "normal" && found.method !== method) {
      differences.push(`${label}: schema says type ${index.algorithm ?? "BTree"}, database index ${found.name} uses ${found.method}`);
    }
    if (found.method === "btree" && !sameList(found.descending, descending)) {
      differences.push(`${label}: sort order differs from database index ${found.name}`);
    }
  }
  for (const index of catalog.indexes) {
    if (matchedIndexes.has(index) || index.is_partial_or_expression || !modelTables.has(index.table)) continue;
    const kind = index.is_primary ? "primary key" : index.is_unique ? "unique index" : "index";
    differences.push(
      `${kind} ${index.name} on ${show(index.table)} (${index.columns.join(", ")}) exists in the database but not in the schema`,
    );
  }

  // Foreign keys, from the side of the relation that holds the fields.
  const matchedForeignKeys = new Set<CatalogForeignKey>();
  for (const model of datamodel.models) {
    const table = tableOf.get(model.name) ?? "";
    if (!tables.has(table)) continue;
    for (const field of model.fields) {
      if (field.kind !== "object" || (field.relationFromFields ?? []).length === 0) continue;
      const target = modelsByName.get(field.type);
      const refTable = tableOf.get(field.type);
      if (target === undefined || refTable === undefined) continue;
      const fromColumns = (field.relationFromFields ?? []).map((name) => columnOf(model, name));
      const toColumns = (field.relationToFields ?? []).map((name) => columnOf(target, name));
      const label = `relation ${model.name}.${field.name}: foreign key ${show(table)} (${fromColumns.join(", ")}) → ${show(refTable)} (${toColumns.join(", ")})`;
      const found = catalog.foreignKeys.find(
        (candidate) =>
          !matchedForeignKeys.has(candidate) &&
          candidate.table === table &&
          candidate.ref_table === refTable &&
          sameList(candidate.columns, fromColumns) &&
          sameList(candidate.ref_columns, toColumns),
      );
      if (found === undefined) {
        differences.push(`${label} is missing from the database`);
        continue;
      }
      matchedForeignKeys.add(found);
      // Prisma's defaults: Restrict on delete when the relation is required, else SetNull; Cascade on update.
      const required = (field.relationFromFields ?? []).every(
        (name) => model.fields.find((candidate) => candidate.name === name)?.isRequired ?? true,
      );
      const onDelete = field.relationOnDelete ?? (required ? "Restrict" : "SetNull");
      const onUpdate = field.relationOnUpdate ?? "Cascade";
      if (referentialActions[onDelete] !== found.on_delete) {
        differences.push(`${label}: schema says onDelete ${onDelete}, database ${found.name} differs`);
      }
      if (referentialActions[onUpdate] !== found.on_update) {
        differences.push(`${label}: schema says onUpdate ${onUpdate}, database ${found.name} differs`);
      }
    }
  }
  for (const foreignKey of catalog.foreignKeys) {
    if (matchedForeignKeys.has(foreignKey) || !modelTables.has(foreignKey.table)) continue;
    differences.push(
      `foreign key ${foreignKey.name} on ${show(foreignKey.table)} (${foreignKey.columns.join(", ")}) exists in the database but no relation declares it`,
    );
  }
  return differences;
}
