// DeleteFaceData: erases a person's biometric data — the reference embedding,
// every validation record and the stored responses of their idempotent calls —
// in one transaction. The service never stores images, so there are none to
// erase. Deleting again finds nothing and reports zeros.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type DeleteFaceDataRequest,
  type DeleteFaceDataResponse,
  DeleteFaceDataResponseSchema,
} from "@trustmesh/api/trustmesh/face/v1/face_service_pb.js";
import type { FaceServiceDependencies } from "./dependencies.ts";

export function createDeleteFaceData(dependencies: FaceServiceDependencies) {
  const now = dependencies.now ?? (() => new Date());
  return async function deleteFaceData(request: DeleteFaceDataRequest): Promise<DeleteFaceDataResponse> {
    const erased = await dependencies.store.deleteFaceData(request.userId);
    return create(DeleteFaceDataResponseSchema, {
      referenceDeleted: erased.referenceDeleted,
      validationsDeleted: erased.validationsDeleted,
      imagesDeleted: 0,
      deletedAt: timestampFromDate(now()),
    });
  };
}
