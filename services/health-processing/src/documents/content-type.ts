// A document's type comes from its first bytes (its magic number), read by the
// file-type package, never from the file name or the client's claim.
import { DocumentContentType } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { fileTypeFromBuffer } from "file-type";

const accepted: ReadonlyMap<string, DocumentContentType> = new Map([
  ["application/pdf", DocumentContentType.PDF],
  ["image/jpeg", DocumentContentType.JPEG],
  ["image/png", DocumentContentType.PNG],
]);

/** The accepted type of the content, or the detected MIME type (or undefined) when it is not accepted. */
export async function detectContentType(content: Uint8Array): Promise<{ type: DocumentContentType } | { rejected: string | undefined }> {
  const detected = await fileTypeFromBuffer(content);
  const type = detected ? accepted.get(detected.mime) : undefined;
  return type === undefined ? { rejected: detected?.mime } : { type };
}
