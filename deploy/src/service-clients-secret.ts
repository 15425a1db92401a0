// Prints the Secret `trustmesh-service-clients` the chart reads service client
// credentials from: a fresh random secret for payments, the one service that
// calls others with a service token (key payments-client-secret), and auth's
// AUTH_SERVICE_CLIENTS with its argon2id hash and scopes (key auth-service-clients).
// The scopes come from the testkit's table, the one place they are written down,
// so a cluster grants exactly what `npm start` and the tests grant.
//
//   node deploy/src/service-clients-secret.ts <namespace> | kubectl apply -f -
import { createServiceClientCredentials } from "@trustmesh/testkit";
import { stringify } from "yaml";

export async function serviceClientsSecret(namespace: string): Promise<Record<string, unknown>> {
  const credentials = await createServiceClientCredentials(["payments"]);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "trustmesh-service-clients", namespace },
    type: "Opaque",
    stringData: {
      "payments-client-secret": credentials.secrets.payments,
      "auth-service-clients": credentials.authServiceClients,
    },
  };
}

if (import.meta.main) {
  const namespace = process.argv[2];
  if (!namespace) {
    console.error("usage: node deploy/src/service-clients-secret.ts <namespace>");
    process.exit(2);
  }
  process.stdout.write(stringify(await serviceClientsSecret(namespace)));
}
