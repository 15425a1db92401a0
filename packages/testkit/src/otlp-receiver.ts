// A minimal OTLP/HTTP trace receiver for tests: services export to it exactly
// as they would to a collector (OTEL_EXPORTER_OTLP_ENDPOINT, http/json), and
// tests read back the spans that really crossed the wire.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface ReceivedSpan {
  serviceName: string;
  /** The attributes of the resource that sent the span (service.name among them). */
  resourceAttributes: Record<string, string | number | boolean>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** The spans this one links to, in any trace. */
  links: { traceId: string; spanId: string }[];
  /** Span events (recorded exceptions among them), with their attributes. */
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  /** The status message; empty when none was set. */
  statusMessage: string;
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans(): ReceivedSpan[];
  /** Resolves once predicate holds for the spans received, or rejects after timeoutMs. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };
type OtlpExport = {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttribute[];
        links?: { traceId: string; spanId: string }[];
        events?: { name: string; attributes?: OtlpAttribute[] }[];
        status?: { message?: string };
      }[];
    }[];
  }[];
};

function attributeValue(value: OtlpValue): string | number | boolean {
  return value.stringValue ?? value.boolValue ?? value.doubleValue ?? Number(value.intValue ?? 0);
}

function attributesOf(attributes: OtlpAttribute[] = []): Record<string, string | number | boolean> {
  return Object.fromEntries(attributes.map((attribute) => [attribute.key, attributeValue(attribute.value)]));
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.url !== "/v1/traces" || !(request.headers["content-type"] ?? "").includes("json")) {
        response.writeHead(415).end();
        return;
      }
      // Collectors compress by default (the OTLP/HTTP exporter's gzip); SDKs usually do not.
      const raw = Buffer.concat(chunks);
      const text = request.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
      const body = JSON.parse(text.toString("utf8")) as OtlpExport;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resourceAttributes = attributesOf(resourceSpans.resource?.attributes);
        const serviceName = String(resourceAttributes["service.name"] ?? "");
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            received.push({
              serviceName,
              resourceAttributes,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? "",
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
              events: (span.events ?? []).map((event) => ({ name: event.name, attributes: attributesOf(event.attributes) })),
              statusMessage: span.status?.message ?? "",
            });
          }
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => [...received],
    async waitFor(predicate, timeoutMs = 15_000) {
      const giveUpAt = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > giveUpAt)
          throw new Error(
            `spans did not arrive in ${timeoutMs} ms; received:\n${received.map((s) => `${s.serviceName} ${s.name} ${s.traceId}`).join("\n")}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return [...received];
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
