// gRPC server reflection (v1 and v1alpha) through @grpc/reflection, so
// `grpcurl -plaintext host:port list` and `describe` work with no proto files.
// @grpc/reflection reads serialized FileDescriptorProtos from a proto-loader
// package definition; ours come straight from the generated descriptors.

import { type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { ServiceRegistration } from "./registration.ts";

/** The files declaring the services and everything they import, each once. */
export function filesOf(services: readonly ServiceRegistration[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.set(file.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const { service } of services) visit(service.file);
  return [...seen.values()];
}

export function addReflection(server: grpc.Server, services: readonly ServiceRegistration[]): void {
  const fileDescriptorProtos = filesOf(services).map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  // One entry is enough: the reflection service indexes every file it is given.
  const definition = { trustmesh: { fileDescriptorProtos } } as unknown as PackageDefinition;
  new ReflectionService(definition, { services: services.map(({ service }) => service.typeName) }).addToServer(server);
}
