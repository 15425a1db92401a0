// The credential types this issuer knows: for each, its VC `type`, its SD-JWT VC
// `vct` (a URL under the issuer, where its type metadata is served), and the
// schema of its subject claims. The schemas are zod, used to check claims when
// verifying and published as JSON Schema for verifiers (VCDM 2.0 credentialSchema).
import { CredentialType } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { z } from "zod";
import type { CredentialKind } from "./generated/prisma/enums.ts";

/** An ISO 8601 instant with an offset, as VCDM 2.0 dateTimeStamp values are written. */
const instant = z.iso.datetime({ offset: true });

const emailClaims = z.strictObject({
  email: z.email().max(254),
  verified_at: instant.optional(),
});

const phoneClaims = z.strictObject({
  phone_number: z.string().regex(/^\+[1-9][0-9]{6,14}$/),
  verified_at: instant.optional(),
});

const identityClaims = z.strictObject({
  given_name: z.string().min(1).max(100),
  family_name: z.string().min(1).max(100),
  birthdate: z.iso.date(),
  over_18: z.boolean(),
});

export interface CredentialTypeDefinition {
  readonly kind: CredentialKind;
  readonly type: CredentialType;
  /** The last path segment of its vct and schema URLs. */
  readonly slug: string;
  /** The VC `type` besides "VerifiableCredential". */
  readonly vcType: string;
  readonly name: string;
  readonly description: string;
  /** The subject claims, every one present (an issued credential). */
  readonly claims: z.ZodObject;
}

export const credentialTypes: readonly CredentialTypeDefinition[] = [
  {
    kind: "VERIFIED_EMAIL",
    type: CredentialType.VERIFIED_EMAIL,
    slug: "verified-email",
    vcType: "VerifiedEmailCredential",
    name: "Verified email address",
    description: "The holder proved control of this email address with a one-time code.",
    claims: emailClaims,
  },
  {
    kind: "VERIFIED_PHONE",
    type: CredentialType.VERIFIED_PHONE,
    slug: "verified-phone",
    vcType: "VerifiedPhoneCredential",
    name: "Verified phone number",
    description: "The holder proved control of this phone number with a one-time code sent by SMS.",
    claims: phoneClaims,
  },
  {
    kind: "VERIFIED_IDENTITY",
    type: CredentialType.VERIFIED_IDENTITY,
    slug: "verified-identity",
    vcType: "VerifiedIdentityCredential",
    name: "Verified identity",
    description: "The holder's name and date of birth were verified; over_18 is computed from the date of birth at issuance.",
    claims: identityClaims,
  },
];

export function credentialTypeOfKind(kind: CredentialKind): CredentialTypeDefinition {
  return credentialTypes.find((definition) => definition.kind === kind) as CredentialTypeDefinition;
}

export function credentialTypeOfProto(type: CredentialType): CredentialTypeDefinition | undefined {
  return credentialTypes.find((definition) => definition.type === type);
}

export function credentialTypeOfSlug(slug: string): CredentialTypeDefinition | undefined {
  return credentialTypes.find((definition) => definition.slug === slug);
}

/** URLs under the issuer where a type's metadata and schema are published. */
export function typeUrls(issuerUrl: string, definition: CredentialTypeDefinition): { vct: string; schema: string } {
  return {
    vct: `${issuerUrl}/credentials/types/${definition.slug}`,
    schema: `${issuerUrl}/credentials/schemas/${definition.slug}.json`,
  };
}

/** The type a VC `type` array or an SD-JWT VC `vct` names, when this issuer defines it. */
export function credentialTypeOfUri(issuerUrl: string, typeUri: string): CredentialTypeDefinition | undefined {
  return credentialTypes.find((definition) => definition.vcType === typeUri || typeUrls(issuerUrl, definition).vct === typeUri);
}

/**
 * Checks subject claims against the type's schema. A presentation discloses only
 * some claims, so `partial` accepts any subset (but nothing unknown or ill-formed).
 * Returns a problem description, or undefined when they match.
 */
export function schemaProblem(definition: CredentialTypeDefinition, claims: unknown, partial: boolean): string | undefined {
  const schema = partial ? definition.claims.partial() : definition.claims;
  const result = schema.safeParse(claims);
  if (result.success) return undefined;
  return result.error.issues.map((issue) => `${issue.path.join(".") || "claims"}: ${issue.message}`).join("; ");
}

/** The JSON Schema (2020-12) of a type's claims, as published at its credentialSchema URL. */
export function jsonSchemaOf(issuerUrl: string, definition: CredentialTypeDefinition): Record<string, unknown> {
  return {
    ...z.toJSONSchema(definition.claims, { target: "draft-2020-12" }),
    $id: typeUrls(issuerUrl, definition).schema,
    title: definition.name,
    description: definition.description,
  };
}

/**
 * SD-JWT VC type metadata (draft-ietf-oauth-sd-jwt-vc, "Type Metadata") served
 * at the vct URL: a name and description for wallets, and each claim, every one
 * selectively disclosable.
 */
export function typeMetadataOf(issuerUrl: string, definition: CredentialTypeDefinition): Record<string, unknown> {
  return {
    vct: typeUrls(issuerUrl, definition).vct,
    name: definition.name,
    description: definition.description,
    display: [{ lang: "en", name: definition.name, description: definition.description }],
    claims: Object.keys(definition.claims.shape).map((claim) => ({ path: [claim], sd: "always" })),
    schema_uri: typeUrls(issuerUrl, definition).schema,
  };
}
