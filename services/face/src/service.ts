// The FaceService handlers, one module per area (service/*.ts).
import type { ServiceImpl } from "@connectrpc/connect";
import type { FaceService } from "@trustmesh/api";
import { createDeleteFaceData } from "./service/delete-face-data.ts";
import type { FaceServiceDependencies } from "./service/dependencies.ts";
import { createEnrolFace } from "./service/enrol-face.ts";
import { createValidateFaceImage } from "./service/validate-face-image.ts";
import { createValidationReads } from "./service/validation-reads.ts";

export type { FaceServiceDependencies, FaceServiceSettings } from "./service/dependencies.ts";

export function createFaceServiceImpl(dependencies: FaceServiceDependencies): ServiceImpl<typeof FaceService> {
  return {
    enrollFace: createEnrolFace(dependencies),
    validateFaceImage: createValidateFaceImage(dependencies),
    ...createValidationReads(dependencies),
    deleteFaceData: createDeleteFaceData(dependencies),
  };
}
