import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type * as protoLoader from '@grpc/proto-loader';
import { FileDescriptorProto } from 'protobufjs/ext/descriptor';

interface FieldLike {
  typeName?: string;
}
interface MessageLike {
  name?: string;
  field?: FieldLike[];
  nestedType?: MessageLike[];
  enumType?: Array<{ name?: string }>;
}
interface FileLike {
  name?: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageLike[];
  enumType?: Array<{ name?: string }>;
  service?: Array<{ name?: string; method?: Array<{ inputType?: string; outputType?: string }> }>;
}

/**
 * proto-loader regroups files by package ("secretbroker_v1.proto",
 * "google_protobuf.proto") and leaves every file's `dependency` list empty,
 * so a reflection client such as grpcurl cannot resolve an imported type
 * ("cannot resolve type *.google.protobuf.Struct"). This returns the same
 * package definition with each file's dependencies filled in from the types
 * it references, so every descriptor served is complete.
 */
export function withFileDependencies(def: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const files = new Map<string, FileLike>();
  for (const entry of Object.values(def)) {
    for (const bin of (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const f = FileDescriptorProto.decode(bin) as unknown as FileLike;
      if (f.name && !files.has(f.name)) files.set(f.name, f);
    }
  }
  const fileOf = new Map<string, string>();
  const indexMessages = (prefix: string, file: string, list: MessageLike[] | undefined): void => {
    for (const m of list ?? []) {
      const fqn = `${prefix}.${m.name}`;
      fileOf.set(fqn, file);
      for (const e of m.enumType ?? []) fileOf.set(`${fqn}.${e.name}`, file);
      indexMessages(fqn, file, m.nestedType);
    }
  };
  for (const [name, f] of files) {
    const pkg = f.package ? `.${f.package}` : '';
    indexMessages(pkg, name, f.messageType);
    for (const e of f.enumType ?? []) fileOf.set(`${pkg}.${e.name}`, name);
  }
  const encoded = new Map<string, Buffer>();
  for (const [name, f] of files) {
    const refs = new Set<string>();
    const visit = (list: MessageLike[] | undefined): void => {
      for (const m of list ?? []) {
        for (const field of m.field ?? []) if (field.typeName) refs.add(field.typeName);
        visit(m.nestedType);
      }
    };
    visit(f.messageType);
    for (const s of f.service ?? []) for (const m of s.method ?? []) [m.inputType, m.outputType].forEach((t) => t && refs.add(t));
    const deps = new Set(f.dependency ?? []);
    for (const ref of refs) {
      const target = fileOf.get(ref.startsWith('.') ? ref : `.${ref}`);
      if (target && target !== name) deps.add(target);
    }
    f.dependency = [...deps].sort();
    encoded.set(name, Buffer.from(FileDescriptorProto.encode(f as never).finish()));
  }
  const out: protoLoader.PackageDefinition = {};
  for (const [key, entry] of Object.entries(def)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    out[key] = protos
      ? ({
          ...entry,
          fileDescriptorProtos: protos.map((bin) => encoded.get((FileDescriptorProto.decode(bin) as unknown as FileLike).name ?? '') ?? bin),
        } as typeof entry)
      : entry;
  }
  return out;
}

/**
 * Server reflection (v1 and v1alpha) over `def`, with complete descriptors.
 * With `admit`, every reflection stream is checked first (on the mTLS port:
 * only configured agents and operators); a refused stream ends with the
 * status `admit` returns and reflects nothing.
 */
export function addReflection(
  server: Pick<grpc.Server, 'addService'>,
  def: protoLoader.PackageDefinition,
  admit?: (call: grpc.ServerDuplexStream<unknown, unknown>) => Partial<grpc.StatusObject> | undefined,
): void {
  const reflection = new ReflectionService(withFileDependencies(def));
  reflection.addToServer({
    addService: (service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
      if (!admit) return server.addService(service, impl);
      const guarded: grpc.UntypedServiceImplementation = {};
      for (const [method, handler] of Object.entries(impl)) {
        guarded[method] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const refused = admit(call);
          if (refused) {
            call.emit('error', refused);
            return;
          }
          (handler as (c: grpc.ServerDuplexStream<unknown, unknown>) => void)(call);
        }) as grpc.UntypedHandleCall;
      }
      server.addService(service, guarded);
    },
  });
}
