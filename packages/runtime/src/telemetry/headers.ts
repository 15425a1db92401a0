// Adapters between the Fetch API Headers that Connect uses and OpenTelemetry's
// propagator interfaces.
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

export const headersGetter: TextMapGetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => [...carrier.keys()],
};

export const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
