// ResolveContact: payments asks whose an email, phone number or user id is
// before it moves money to them. Only a VERIFIED email or phone resolves: an
// address typed at sign-up and never confirmed may belong to someone else, and
// money sent to it would go to whoever claimed it first. Accounts have no
// closed state yet, so a user id resolves while its account exists.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ResolveContactRequest, ResolveContactResponseSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { invalidArgument } from "@trustmesh/runtime";
import { normalizeEmail, normalizePhoneNumber } from "../contacts.ts";
import type { UserAccount } from "../store.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";

type ResolveContactResponse = MessageInitShape<typeof ResolveContactResponseSchema>;

const notFound: ResolveContactResponse = { found: false, userId: "" };

function answer(user: UserAccount | null, verified: (user: UserAccount) => boolean): ResolveContactResponse {
  return user && verified(user) ? { found: true, userId: user.id } : notFound;
}

export async function resolveContact(
  dependencies: AuthServiceDependencies,
  request: ResolveContactRequest,
): Promise<ResolveContactResponse> {
  const { store } = dependencies;
  const contact = request.contact;
  switch (contact.case) {
    case "email":
      return answer(await store.findUserByContact("email", normalizeEmail(contact.value)), (user) => user.emailVerifiedAt !== null);
    case "phone":
      return answer(
        await store.findUserByContact("phoneNumber", normalizePhoneNumber("phone", contact.value)),
        (user) => user.phoneVerifiedAt !== null,
      );
    case "userId":
      return answer(await store.findUserById(contact.value), () => true);
    default:
      throw invalidArgument("contact", "one of email, phone or user_id is required");
  }
}
