// Proto enums and the database's enum labels share their short names
// ("MEDICAL_DATA_PROCESSING"), so conversion is a lookup by name either way.
import type {
  ConsentAction as ProtoConsentAction,
  ConsentSource as ProtoConsentSource,
  ConsentType as ProtoConsentType,
  DocumentContentType as ProtoDocumentContentType,
  JobFailureReason as ProtoJobFailureReason,
  JobStage as ProtoJobStage,
  JobStatus as ProtoJobStatus,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import * as proto from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type * as db from "../generated/prisma/enums.ts";

type NumericEnum = Record<string, string | number>;

function nameOf<T extends string>(enumObject: NumericEnum, value: number): T {
  const name = enumObject[value];
  if (typeof name !== "string" || name === "UNSPECIFIED") throw new Error(`no database label for enum value ${value}`);
  return name as T;
}

function enumValueOf<T extends number>(enumObject: NumericEnum, name: string): T {
  const value = enumObject[name];
  if (typeof value !== "number") throw new Error(`unknown enum label ${name}`);
  return value as T;
}

export const toDbConsentType = (value: ProtoConsentType) => nameOf<db.ConsentType>(proto.ConsentType, value);
export const fromDbConsentType = (name: db.ConsentType) => enumValueOf<ProtoConsentType>(proto.ConsentType, name);
export const toDbConsentAction = (value: ProtoConsentAction) => nameOf<db.ConsentAction>(proto.ConsentAction, value);
export const fromDbConsentAction = (name: db.ConsentAction) => enumValueOf<ProtoConsentAction>(proto.ConsentAction, name);
export const toDbConsentSource = (value: ProtoConsentSource) => nameOf<db.ConsentSource>(proto.ConsentSource, value);
export const fromDbConsentSource = (name: db.ConsentSource) => enumValueOf<ProtoConsentSource>(proto.ConsentSource, name);
export const toDbContentType = (value: ProtoDocumentContentType) => nameOf<db.DocumentContentType>(proto.DocumentContentType, value);
export const fromDbContentType = (name: db.DocumentContentType) => enumValueOf<ProtoDocumentContentType>(proto.DocumentContentType, name);
export const toDbJobStatus = (value: ProtoJobStatus) => nameOf<db.JobStatus>(proto.JobStatus, value);
export const fromDbJobStatus = (name: db.JobStatus) => enumValueOf<ProtoJobStatus>(proto.JobStatus, name);
export const toDbJobStage = (value: ProtoJobStage) => nameOf<db.JobStage>(proto.JobStage, value);
export const fromDbJobStage = (name: db.JobStage) => enumValueOf<ProtoJobStage>(proto.JobStage, name);
export const toDbFailureReason = (value: ProtoJobFailureReason) => nameOf<db.JobFailureReason>(proto.JobFailureReason, value);
export const fromDbFailureReason = (name: db.JobFailureReason) => enumValueOf<ProtoJobFailureReason>(proto.JobFailureReason, name);
