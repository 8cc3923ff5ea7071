import assert from "node:assert/strict";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { grpcServiceDefinition } from "../../../src/rpc/grpc_definition.ts";
import {
  addReflection,
  answerReflection,
  DEFAULT_REFLECTION_FILES,
  DescriptorIndex,
} from "../../../src/rpc/reflection.ts";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../../proto/gen/grpc/reflection/v1/reflection_pb.ts";
import { startServer } from "./_grpc_fixture.ts";

const SERVICES = ["rangedb.v1.KV", "rangedb.v1.Admin", "grpc.health.v1.Health"];
const LISTED = [...SERVICES, "grpc.reflection.v1.ServerReflection"].sort();

Deno.test("addReflection() lists services and describes methods to grpc-js-reflection-client", async () => {
  const server = await startServer((s) => addReflection(s, SERVICES));
  try {
    for (const version of ["v1alpha", "v1"]) {
      const client = new GrpcReflection(
        server.address,
        grpc.credentials.createInsecure(),
        {},
        version,
      );
      assert.deepEqual((await client.listServices()).sort(), LISTED);
      const methods = await client.listMethods("rangedb.v1.KV");
      assert.deepEqual(
        methods.map((m) => m.name).sort(),
        ["Batch", "CompareAndSwap", "Delete", "Get", "Put", "Range"],
      );
      const descriptor = await client.getDescriptorBySymbol("rangedb.v1.PutRequest");
      const root = descriptor.getProtobufJsRoot();
      const put = root.lookupType("rangedb.v1.PutRequest");
      assert.deepEqual(Object.keys(put.fields).sort(), ["key", "requestId", "value"].sort());
      (client as unknown as { client: grpc.Client }).client.close();
    }
  } finally {
    await server.stop();
  }
});

function ask(request: Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1]) {
  const index = new DescriptorIndex(DEFAULT_REFLECTION_FILES);
  return answerReflection(index, LISTED, create(ServerReflectionRequestSchema, request));
}

function fileNames(res: ServerReflectionResponse): string[] {
  assert.equal(res.messageResponse.case, "fileDescriptorResponse");
  return res.messageResponse.value.fileDescriptorProto.map((b) =>
    fromBinary(FileDescriptorProtoSchema, b).name
  );
}

Deno.test("answerReflection() returns a file with its imports for a symbol", () => {
  assert.deepEqual(
    fileNames(
      ask({ messageRequest: { case: "fileContainingSymbol", value: "rangedb.v1.Peer.Join" } }),
    ),
    [
      "rangedb/v1/peer.proto",
      "rangedb/v1/admin.proto",
      "rangedb/v1/kv.proto",
      "rangedb/v1/raft.proto",
    ],
  );
  for (const symbol of ["rangedb.v1.BatchOp.Put", "rangedb.v1.MessageType", "rangedb.v1.KV"]) {
    assert.equal(
      fileNames(ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } })).length >=
        1,
      true,
    );
  }
  assert.deepEqual(
    fileNames(
      ask({ messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } }),
    ),
    ["grpc/health/v1/health.proto"],
  );
});

Deno.test("answerReflection() answers NOT_FOUND for unknown names", () => {
  for (
    const request of [
      { messageRequest: { case: "fileContainingSymbol" as const, value: "nope.Nope" } },
      { messageRequest: { case: "fileByFilename" as const, value: "nope.proto" } },
      { messageRequest: { case: "allExtensionNumbersOfType" as const, value: "nope.Nope" } },
    ]
  ) {
    const res = ask(request);
    assert.equal(res.messageResponse.case, "errorResponse");
    assert.equal(res.messageResponse.value.errorCode, grpc.status.NOT_FOUND);
  }
  const ext = ask({
    messageRequest: { case: "allExtensionNumbersOfType", value: "rangedb.v1.Entry" },
  });
  assert.equal(ext.messageResponse.case, "allExtensionNumbersResponse");
});

Deno.test("addReflection() refuses a service without a descriptor", () => {
  const server = new grpc.Server();
  assert.throws(
    () => addReflection(server, ["rangedb.v1.Nope"]),
    (err) => isRangeDbError(err, "INVALID_ARGUMENT"),
  );
});

Deno.test("addReflection() answers a raw v1 stream with the listed services", async () => {
  const server = await startServer((s) => addReflection(s, SERVICES));
  const Client = grpc.makeGenericClientConstructor(grpcServiceDefinition(ServerReflection), "R");
  const client = new Client(server.address, grpc.credentials.createInsecure());
  try {
    const call = (client as unknown as Record<
      string,
      () => grpc.ClientDuplexStream<unknown, ServerReflectionResponse>
    >)
      .ServerReflectionInfo();
    call.write(
      create(ServerReflectionRequestSchema, {
        messageRequest: { case: "listServices", value: "" },
      }),
    );
    call.end();
    const responses: ServerReflectionResponse[] = [];
    for await (const r of call) responses.push(r as ServerReflectionResponse);
    assert.equal(responses.length, 1);
    const res = responses[0].messageResponse;
    assert.equal(res.case, "listServicesResponse");
    assert.deepEqual(res.value.service.map((s) => s.name), LISTED);
  } finally {
    client.close();
    await server.stop();
  }
});
