import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type * as protoLoader from '@grpc/proto-loader';
import { FileDescriptorProto } from 'protobufjs/ext/descriptor';

interface FieldLike {
  name?: string;
  typeName?: string;
}
interface MessageLike {
  name?: string;
  field?: FieldLike[];
  nestedType?: MessageLike[];
  enumType?: Array<{ name?: string }>;
  options?: { mapEntry?: boolean };
}
interface FileLike {
  name?: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageLike[];
  enumType?: Array<{ name?: string }>;
  service?: Array<{ name?: string; method?: Array<{ inputType?: string; outputType?: string }> }>;
}

const camel = (name: string): string => name.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * proto-loader (protobufjs) builds descriptors that stock clients reject:
 * - files are regrouped by package ("secretbroker_v1.proto") and each file's
 *   `dependency` list is empty, so grpcurl cannot resolve an imported type
 *   ("cannot resolve type *.google.protobuf.Struct");
 * - a map field's entry type is named after the field ("Fields") instead of
 *   "FieldsEntry", which Go's protobuf refuses ("invalid map");
 * - type names are relative.
 * This returns the same package definition with each file repaired: map
 * entries named as protoc names them, type names fully qualified, and every
 * file's dependencies listed, so every descriptor served is complete.
 */
export function withCompleteDescriptors(def: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const files = new Map<string, FileLike>();
  for (const entry of Object.values(def)) {
    for (const bin of (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const f = FileDescriptorProto.decode(bin) as unknown as FileLike;
      if (f.name && !files.has(f.name)) files.set(f.name, f);
    }
  }
  // 1. Map entries get protoc's names (<CamelField>Entry), and the fields follow.
  const renameMapEntries = (list: MessageLike[] | undefined): void => {
    for (const m of list ?? []) {
      for (const field of m.field ?? []) {
        const entry = (m.nestedType ?? []).find((n) => n.options?.mapEntry && n.name === field.typeName);
        if (entry && field.name) {
          entry.name = `${camel(field.name)}Entry`;
          field.typeName = entry.name;
        }
      }
      renameMapEntries(m.nestedType);
    }
  };
  for (const f of files.values()) renameMapEntries(f.messageType);
  // 2. Index every message and enum by its fully-qualified name (leading dot).
  const fileOf = new Map<string, string>();
  const indexMessages = (scope: string, file: string, list: MessageLike[] | undefined): void => {
    for (const m of list ?? []) {
      const fqn = `${scope}.${m.name}`;
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
  // 3. Resolve each reference as protoc does (innermost scope first) and record the file it lives in.
  const resolve = (ref: string, scope: string): string => {
    if (ref.startsWith('.')) return ref;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      const candidate = `${s}.${ref}`;
      if (fileOf.has(candidate)) return candidate;
      if (s === '') return `.${ref}`;
    }
  };
  const encoded = new Map<string, Buffer>();
  for (const [name, f] of files) {
    const pkg = f.package ? `.${f.package}` : '';
    const deps = new Set(f.dependency ?? []);
    const use = (fqn: string): void => {
      const target = fileOf.get(fqn);
      if (target && target !== name) deps.add(target);
    };
    const visit = (scope: string, list: MessageLike[] | undefined): void => {
      for (const m of list ?? []) {
        const fqn = `${scope}.${m.name}`;
        for (const field of m.field ?? []) {
          if (!field.typeName) continue;
          field.typeName = resolve(field.typeName, fqn);
          use(field.typeName);
        }
        visit(fqn, m.nestedType);
      }
    };
    visit(pkg, f.messageType);
    for (const svc of f.service ?? []) {
      for (const m of svc.method ?? []) {
        if (m.inputType) use((m.inputType = resolve(m.inputType, pkg)));
        if (m.outputType) use((m.outputType = resolve(m.outputType, pkg)));
      }
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
  const reflection = new ReflectionService(withCompleteDescriptors(def));
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
