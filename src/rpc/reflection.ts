/**
 * gRPC server reflection (`grpc.reflection.v1.ServerReflection` and the older, wire-identical
 * `grpc.reflection.v1alpha.ServerReflection`), so that tools such as grpcurl list services and
 * describe messages without proto files. It answers from the file descriptors embedded in the
 * protobuf-es generated code: list_services, file_by_filename, file_containing_symbol (services,
 * methods, messages, enums, extensions) with every transitive dependency, and
 * all_extension_numbers_of_type (always empty: RangeDB declares no extensions).
 *
 * @module
 */

import { create, type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { file_grpc_health_v1_health } from "../../proto/gen/grpc/health/v1/health_pb.ts";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../proto/gen/grpc/reflection/v1/reflection_pb.ts";
import { file_rangedb_v1_admin } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { file_rangedb_v1_kv } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { file_rangedb_v1_peer } from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";

/** The reflection service's own name, always listed. */
export const REFLECTION_SERVICE = "grpc.reflection.v1.ServerReflection";

/** The files reflection describes unless told otherwise (their imports are added). */
export const DEFAULT_REFLECTION_FILES: readonly DescFile[] = [
  file_rangedb_v1_kv,
  file_rangedb_v1_admin,
  file_rangedb_v1_peer,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
];

/** File and symbol lookup over a set of descriptors and their imports. */
export class DescriptorIndex {
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #messages = new Set<string>();

  /** @param files the files to index; their imports are indexed too */
  constructor(files: readonly DescFile[]) {
    for (const file of files) this.#add(file);
  }

  #add(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.#add(dep);
    const addMessage = (m: DescMessage) => {
      this.#symbols.set(m.typeName, file);
      this.#messages.add(m.typeName);
      for (const nested of m.nestedMessages) addMessage(nested);
      for (const e of m.nestedEnums) this.#symbols.set(e.typeName, file);
      for (const x of m.nestedExtensions) this.#symbols.set(x.typeName, file);
    };
    for (const m of file.messages) addMessage(m);
    for (const e of file.enums) this.#symbols.set(e.typeName, file);
    for (const x of file.extensions) this.#symbols.set(x.typeName, file);
    for (const s of file.services) {
      this.#symbols.set(s.typeName, file);
      for (const m of s.methods) this.#symbols.set(`${s.typeName}.${m.name}`, file);
    }
  }

  /** Whether `name` is a service in the index. */
  hasService(name: string): boolean {
    return this.#symbols.get(name)?.services.some((s) => s.typeName === name) ?? false;
  }

  /** Whether `name` is a message in the index. */
  hasMessage(name: string): boolean {
    return this.#messages.has(name);
  }

  /** The file of that name and its transitive imports, the file first; undefined when unknown. */
  fileByName(name: string): DescFile[] | undefined {
    const file = this.#files.get(name);
    return file === undefined ? undefined : withImports(file);
  }

  /** The file declaring `symbol` and its transitive imports; undefined when unknown. */
  fileContainingSymbol(symbol: string): DescFile[] | undefined {
    const file = this.#symbols.get(symbol.replace(/^\./, ""));
    return file === undefined ? undefined : withImports(file);
  }
}

function withImports(file: DescFile, out: DescFile[] = []): DescFile[] {
  if (out.includes(file)) return out;
  out.push(file);
  for (const dep of file.dependencies) withImports(dep, out);
  return out;
}

/**
 * Answers one reflection request.
 *
 * @param index the descriptors served
 * @param services the names listed by list_services
 * @param req the request
 * @returns the response (an error_response for unknown names)
 */
export function answerReflection(
  index: DescriptorIndex,
  services: readonly string[],
  req: ServerReflectionRequest,
): ServerReflectionResponse {
  const base = { validHost: req.host, originalRequest: req };
  const files = (found: DescFile[] | undefined, what: string): ServerReflectionResponse =>
    found === undefined ? notFound(base, what) : create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: {
        case: "fileDescriptorResponse",
        value: {
          fileDescriptorProto: found.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
        },
      },
    });
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: services.map((name) => ({ name })) },
        },
      });
    case "fileByFilename":
      return files(index.fileByName(r.value), `file ${r.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(r.value), `symbol ${r.value}`);
    case "allExtensionNumbersOfType":
      return index.hasMessage(r.value)
        ? create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: r.value, extensionNumber: [] },
          },
        })
        : notFound(base, `type ${r.value}`);
    case "fileContainingExtension":
      return notFound(base, `extension ${r.value.extensionNumber} of ${r.value.containingType}`);
    default:
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "errorResponse",
          value: {
            errorCode: grpc.status.INVALID_ARGUMENT,
            errorMessage: "Cannot answer reflection request as it names no request kind",
          },
        },
      });
  }
}

function notFound(
  base: { validHost: string; originalRequest: ServerReflectionRequest },
  what: string,
): ServerReflectionResponse {
  return create(ServerReflectionResponseSchema, {
    ...base,
    messageResponse: {
      case: "errorResponse",
      value: {
        errorCode: grpc.status.NOT_FOUND,
        errorMessage: `Cannot describe as it is unknown to this server: ${what}`,
      },
    },
  });
}

/**
 * Registers server reflection (v1 and v1alpha) on `server`.
 *
 * @param server the grpc-js server
 * @param services full names of the services registered on it (the reflection service itself is
 *   added)
 * @param files the descriptors to serve
 * @throws {RangeDbError} INVALID_ARGUMENT when a service is not in `files`
 *
 * @example
 * ```ts ignore
 * addReflection(server, ["rangedb.v1.KV", "rangedb.v1.Admin", "grpc.health.v1.Health"]);
 * ```
 */
export function addReflection(
  server: grpc.Server,
  services: readonly string[],
  files: readonly DescFile[] = DEFAULT_REFLECTION_FILES,
): void {
  const index = new DescriptorIndex(files);
  const listed = [...new Set([...services, REFLECTION_SERVICE])].sort();
  for (const name of listed) {
    if (!index.hasService(name)) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot add reflection as a service has no descriptor: service is ${name}`,
      );
    }
  }
  const handler = (
    call: grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>,
  ) => {
    call.on(
      "data",
      (req: ServerReflectionRequest) => call.write(answerReflection(index, listed, req)),
    );
    call.on("end", () => call.end());
    call.on("error", () => {});
  };
  for (const typeName of [REFLECTION_SERVICE, "grpc.reflection.v1alpha.ServerReflection"]) {
    server.addService(grpcServiceDefinition(ServerReflection, typeName), {
      ServerReflectionInfo: handler,
    });
  }
}
