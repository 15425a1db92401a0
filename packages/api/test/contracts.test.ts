// Goal: the contracts keep DESIGN.md §2's promises for every service that is
// generated, including ones added later: every RPC has an authorization rule,
// every request field carries a protovalidate rule, every repeated field a
// max_items and every string a max_len, and §2's service and RPC names exist.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { create, createFileRegistry, type DescField, type DescMessage, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_descriptor } from "@bufbuild/protobuf/wkt";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { methodsWithoutRule } from "@trustmesh/runtime";
import { trustmeshServices } from "../src/index.ts";

const generatedRoot = join(import.meta.dirname, "..", "src", "gen", "trustmesh");

/** Every service in every generated *_service_pb.js, so a new service is covered without editing this test. */
async function allGeneratedServices(): Promise<DescService[]> {
  const files = readdirSync(generatedRoot, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith("_service_pb.js"));
  const services: DescService[] = [];
  for (const file of files) {
    const module = (await import(join(generatedRoot, file))) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value === "object" && value !== null && (value as DescService).kind === "service") services.push(value as DescService);
    }
  }
  return services;
}

/** Request fields (recursively, through trustmesh messages) lacking the rules §2 requires. */
function fieldProblems(message: DescMessage, path: string, seen: Set<string>): string[] {
  if (seen.has(message.typeName)) return [];
  seen.add(message.typeName);
  const problems: string[] = [];
  for (const field of message.fields) {
    const where = `${path}.${field.name}`;
    problems.push(...ruleProblems(field, where));
    const nested =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
    if (nested?.typeName.startsWith("trustmesh.")) problems.push(...fieldProblems(nested, where, seen));
  }
  return problems;
}

/**
 * Fields where every value of the type is acceptable need no rule of their own:
 * booleans, and singular message fields, whose own fields are checked (by the
 * recursion above for trustmesh messages) and whose presence, where required,
 * is a rule this function then does see.
 */
function needsRule(field: DescField): boolean {
  if (field.fieldKind === "scalar" && field.scalar === 8) return false;
  return field.fieldKind !== "message";
}

function ruleProblems(field: DescField, where: string): string[] {
  if (!hasOption(field, fieldRules)) return needsRule(field) ? [`${where}: no (buf.validate.field) rule`] : [];
  const rules = getOption(field, fieldRules);
  const problems: string[] = [];
  const isString = field.fieldKind === "scalar" && field.scalar === 9;
  const isStringList = field.fieldKind === "list" && field.listKind === "scalar" && field.scalar === 9;
  if (field.fieldKind === "list" && !(rules.type.case === "repeated" && rules.type.value.maxItems !== undefined)) {
    problems.push(`${where}: repeated field without max_items`);
  }
  const stringRules =
    rules.type.case === "string"
      ? rules.type.value
      : rules.type.case === "repeated" && rules.type.value.items?.type.case === "string"
        ? rules.type.value.items.type.value
        : undefined;
  if ((isString || isStringList) && !stringBounded(stringRules)) problems.push(`${where}: string without max_len`);
  return problems;
}

function stringBounded(
  rules: { maxLen?: bigint; len?: bigint; wellKnown: { case: string | undefined }; in: string[] } | undefined,
): boolean {
  if (!rules) return false;
  // uuid, in-lists and fixed lengths bound a string as well as max_len does.
  return rules.maxLen !== undefined || rules.len !== undefined || rules.in.length > 0 || rules.wellKnown.case === "uuid";
}

describe("contracts", () => {
  it("every RPC of every generated service has an authorization rule", async () => {
    const services = await allGeneratedServices();
    assert.ok(services.length >= 7, `found only ${services.length} services`);
    assert.deepEqual(methodsWithoutRule(services), []);
  });

  it("the rule check really catches an RPC without a rule", () => {
    const registry = createFileRegistry(
      create(FileDescriptorProtoSchema, {
        name: "unguarded.proto",
        package: "trustmesh.unguarded.v1",
        syntax: "proto3",
        messageType: [{ name: "PingRequest" }, { name: "PingResponse" }],
        service: [
          {
            name: "UnguardedService",
            method: [
              { name: "Ping", inputType: ".trustmesh.unguarded.v1.PingRequest", outputType: ".trustmesh.unguarded.v1.PingResponse" },
            ],
          },
        ],
      }),
      (name) => (name === file_google_protobuf_descriptor.name ? file_google_protobuf_descriptor : undefined),
    );
    const service = registry.getService("trustmesh.unguarded.v1.UnguardedService");
    assert.ok(service);
    assert.deepEqual(methodsWithoutRule([service]), ["trustmesh.unguarded.v1.UnguardedService/Ping"]);
  });

  it("every request field carries a validation rule, bounded strings and bounded lists", async () => {
    const problems = (await allGeneratedServices()).flatMap((service) =>
      service.methods.flatMap((method) => fieldProblems(method.input, `${service.typeName}/${method.name}`, new Set())),
    );
    assert.deepEqual(problems, []);
  });

  it("serves exactly the services and RPC names DESIGN.md §2 lists", () => {
    const expected: Record<keyof typeof trustmeshServices, string> = {
      auth:
        "SignUp Login CompleteMfa RefreshTokens Logout ListSessions RevokeSession GetMe ChangePassword StartPasswordReset CompletePasswordReset StartEmailVerification CompleteEmailVerification StartPhoneVerification CompletePhoneVerification SetupTotp ConfirmTotp DisableTotp BeginPasskeyRegistration FinishPasskeyRegistration BeginPasskeyLogin FinishPasskeyLogin IssueServiceToken GetJwks" +
        // Beyond DESIGN.md's table: the service-only contact lookup payments needs (issue #5).
        " ResolveContact",
      ledger:
        "CreateAccount GetAccount ListAccounts PostTransaction PostTransactions PostPending VoidPending GetBalance ListEntries Reconcile VerifyChain GetReport",
      payments:
        "QuoteFee SendPayment GetPayment ListPayments WatchPayment RequestPayment PayRequest DeclineRequest CancelRequest ListRequests ReceivePayment RefundPayment AddPaymentMethod ListPaymentMethods RemovePaymentMethod Deposit Withdraw GetLimits",
      credential:
        "CreateDid ResolveDid IssueCredential GetCredential ListCredentials VerifyCredential VerifyPresentation RevokeCredential SuspendCredential ReinstateCredential",
      "health-processing":
        "RecordConsent GetConsentStatus WithdrawConsent UploadDocument GetJob WatchJob ListJobs RetryJob GetResult ExportFhir DeleteDocument VerifyAuditLog",
      face: "EnrollFace ValidateFaceImage GetValidation GetValidationHistory GetValidationStats CheckRecentValidation ListEventValidations DeleteFaceData",
    };
    for (const [name, service] of Object.entries(trustmeshServices)) {
      assert.deepEqual(
        service.methods.map((method) => method.name).sort(),
        expected[name as keyof typeof trustmeshServices].split(" ").sort(),
        name,
      );
    }
  });
});
