// The AuthService handlers, grouped by area in service/*.ts; every RPC of the
// contract is here.
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@trustmesh/api";
import { changePassword, completePasswordReset, getMe, signUp, startPasswordReset } from "./service/accounts.ts";
import type { AuthServiceDependencies } from "./service/dependencies.ts";
import { getJwks } from "./service/jwks.ts";
import { beginPasskeyLogin, beginPasskeyRegistration, finishPasskeyLogin, finishPasskeyRegistration } from "./service/passkeys.ts";
import { resolveContact } from "./service/resolve-contact.ts";
import { issueServiceToken } from "./service/service-tokens.ts";
import { listSessions, logout, revokeSession } from "./service/sessions.ts";
import { completeMfa, login, refreshTokens } from "./service/sign-in.ts";
import { confirmTotp, disableTotp, setupTotp } from "./service/totp.ts";
import { completeVerification, emailTarget, phoneTarget, startVerification } from "./service/verification.ts";

export type { AuthServiceDependencies } from "./service/dependencies.ts";

type AuthHandlers = ServiceImpl<typeof AuthService>;

export function createAuthServiceImpl(dependencies: AuthServiceDependencies): AuthHandlers {
  const jwksCacheSeconds = dependencies.config.AUTH_JWKS_CACHE_SECONDS;
  return {
    signUp: (request, context) => signUp(dependencies, request, context),
    login: (request, context) => login(dependencies, request, context),
    completeMfa: (request, context) => completeMfa(dependencies, request, context),
    refreshTokens: (request, context) => refreshTokens(dependencies, request, context),
    logout: (request, context) => logout(dependencies, request, context),
    listSessions: (request, context) => listSessions(dependencies, request, context),
    revokeSession: (request, context) => revokeSession(dependencies, request, context),
    getMe: (_request, context) => getMe(dependencies, context),
    changePassword: (request, context) => changePassword(dependencies, request, context),
    startPasswordReset: (request, context) => startPasswordReset(dependencies, request, context),
    completePasswordReset: (request, context) => completePasswordReset(dependencies, request, context),
    startEmailVerification: (request, context) => startVerification(dependencies, request.purpose, emailTarget(request.email), context),
    completeEmailVerification: (request, context) => completeVerification(dependencies, emailTarget(request.email), request.code, context),
    startPhoneVerification: (request, context) =>
      startVerification(dependencies, request.purpose, phoneTarget("phone_number", request.phoneNumber), context),
    completePhoneVerification: (request, context) =>
      completeVerification(dependencies, phoneTarget("phone_number", request.phoneNumber), request.code, context),
    setupTotp: (_request, context) => setupTotp(dependencies, context),
    confirmTotp: (request, context) => confirmTotp(dependencies, request, context),
    disableTotp: (request, context) => disableTotp(dependencies, request, context),
    beginPasskeyRegistration: (_request, context) => beginPasskeyRegistration(dependencies, context),
    finishPasskeyRegistration: (request, context) => finishPasskeyRegistration(dependencies, request, context),
    beginPasskeyLogin: (_request, context) => beginPasskeyLogin(dependencies, context),
    finishPasskeyLogin: (request, context) => finishPasskeyLogin(dependencies, request, context),
    issueServiceToken: (request, context) => issueServiceToken(dependencies, request, context),
    resolveContact: (request) => resolveContact(dependencies, request),
    getJwks: () => getJwks(dependencies.store, dependencies.retiredKeyPublishMs, jwksCacheSeconds),
  };
}
