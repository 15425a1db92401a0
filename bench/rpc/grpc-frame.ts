// The gRPC length-prefixed message framing (a compressed flag byte, then a
// 4-byte big-endian length), written by hand so the body file h2load sends is
// exactly what a gRPC client would put on the wire.

/** Frames one uncompressed message. */
export function encodeGrpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Unframes a body that must hold exactly one uncompressed message. */
export function decodeSingleGrpcFrame(body: Buffer): Uint8Array {
  if (body.length < 5) throw new Error(`gRPC body of ${body.length} bytes is shorter than a frame header`);
  if (body.readUInt8(0) !== 0) throw new Error("gRPC response is compressed; the benchmark asked for none");
  const lengthBytes = body.readUInt32BE(1);
  if (body.length !== 5 + lengthBytes) throw new Error(`gRPC body holds ${body.length} bytes, frame says ${5 + lengthBytes}`);
  return body.subarray(5);
}
