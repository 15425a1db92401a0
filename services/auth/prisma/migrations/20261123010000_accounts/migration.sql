-- PLACEHOLDER: replaced by the accounts migration from the auth branch at merge
-- The mfa branch needs only a table its second-factor rows can reference: a
-- user_account with a uuid primary key. The auth branch's accounts migration,
-- under this same folder name, creates the real table.
CREATE TABLE "user_account" (
    "id" UUID NOT NULL,

    CONSTRAINT "user_account_pkey" PRIMARY KEY ("id")
);
