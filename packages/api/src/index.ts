// @trustmesh/api: the six Trustmesh services, one import away. Messages and
// enums are imported from their generated files, e.g.
// "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js".
import { AuthService } from "./gen/trustmesh/auth/v1/auth_service_pb.js";
import { CredentialService } from "./gen/trustmesh/credential/v1/credential_service_pb.js";
import { FaceService } from "./gen/trustmesh/face/v1/face_service_pb.js";
import { HealthProcessingService } from "./gen/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import { LedgerService } from "./gen/trustmesh/ledger/v1/ledger_service_pb.js";
import { PaymentsService } from "./gen/trustmesh/payments/v1/payments_service_pb.js";

export { AuthService, CredentialService, FaceService, HealthProcessingService, LedgerService, PaymentsService };

/** Every deployable Trustmesh service, keyed by its short name (the services/ folder). */
export const trustmeshServices = {
  auth: AuthService,
  payments: PaymentsService,
  ledger: LedgerService,
  credential: CredentialService,
  "health-processing": HealthProcessingService,
  face: FaceService,
} as const;

export type TrustmeshServiceName = keyof typeof trustmeshServices;
