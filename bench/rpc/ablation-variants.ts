// Names of the production interceptor stack's members, outermost first, as
// packages/runtime/src/interceptors/index.ts builds it (DESIGN.md §3); variant
// N of the ablation runs the first N. Only labels: ablation-server.ts slices
// the runtime's real stack, and refuses to start if its length differs.
export const stackOrder = ["tracing", "metrics", "logging", "deadline", "auth", "validation", "error-mapping"] as const;
