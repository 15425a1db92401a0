// Images are accepted by what they are, not by what they claim: a JPEG or PNG
// signature at the start of the bytes, and at most 5 MB. Whether the rest
// decodes is found out by the worker that decodes it.
import { invalidArgument } from "@trustmesh/runtime";

/** The contract's bound (5 MB), also enforced by protovalidate before a handler runs. */
export const imageBytesMax = 5 * 1024 * 1024;

export type ImageType = "jpeg" | "png";

/** JPEG: SOI marker and the first byte of the next marker. */
const jpegSignature = [0xff, 0xd8, 0xff];
/** PNG: the eight-byte signature of the specification. */
const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return bytes.length > signature.length && signature.every((value, index) => bytes[index] === value);
}

/** The image's type; INVALID_ARGUMENT naming `field` when it is empty, too large, or neither JPEG nor PNG. */
export function checkImageContent(image: Uint8Array, field = "image"): ImageType {
  if (image.length === 0) throw invalidArgument(field, "is empty", "IMAGE_EMPTY");
  if (image.length > imageBytesMax)
    throw invalidArgument(field, `is ${image.length} bytes; at most ${imageBytesMax} (5 MB)`, "IMAGE_TOO_LARGE");
  if (startsWith(image, jpegSignature)) return "jpeg";
  if (startsWith(image, pngSignature)) return "png";
  throw invalidArgument(field, "must be a JPEG or PNG image (judged by its content, not its name)", "IMAGE_TYPE_UNSUPPORTED");
}
