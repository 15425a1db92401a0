// Reads PromQL with Prometheus' own grammar (@prometheus-io/lezer-promql, the
// parser of Prometheus' web UI), so the acceptance test knows exactly which
// metrics and labels an expression selects.
import { parser } from "@prometheus-io/lezer-promql";

export interface Selector {
  /** The metric name; empty for a selector by labels only. */
  readonly metric: string;
  /** Label names used in its matchers. */
  readonly labels: readonly string[];
}

/** Every vector selector in an expression; throws on a syntax error, naming where it is. */
export function selectorsOf(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at offset ${cursor.from} in: ${expr}`);
    if (cursor.name !== "VectorSelector") continue;
    const node = cursor.node;
    const identifier = node.getChild("Identifier");
    const labels: string[] = [];
    const matchers = node.getChild("LabelMatchers");
    if (matchers) {
      const inner = matchers.cursor();
      do {
        if (inner.name === "LabelName") labels.push(expr.slice(inner.from, inner.to));
      } while (inner.next() && inner.from < matchers.to);
    }
    selectors.push({ metric: identifier ? expr.slice(identifier.from, identifier.to) : "", labels });
  } while (cursor.next());
  return selectors;
}

/** Grafana's variables, replaced with what they mean when every option is selected. */
export function withGrafanaVariables(expr: string, rateInterval: string): string {
  return expr.replaceAll("$__rate_interval", rateInterval).replace(/\$(namespace|app)\b/g, ".*");
}
