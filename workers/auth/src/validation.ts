import { z } from "zod";

const email = z
  .string({ error: "email is required" })
  .trim()
  .max(254, "email must be at most 254 characters")
  .pipe(z.email({ error: "email must be a valid email address" }))
  .transform((value) => value.toLowerCase());

// Long enough to resist guessing; capped so that hashing cost stays bounded.
const password = z
  .string({ error: "password is required" })
  .min(8, "password must be at least 8 characters")
  .max(128, "password must be at most 128 characters");

export const signupSchema = z.object({
  email,
  password,
  displayName: z
    .string()
    .trim()
    .min(1, "displayName must not be empty")
    .max(80, "displayName must be at most 80 characters")
    .optional(),
});

export const loginSchema = z.object({
  email,
  password: z.string({ error: "password is required" }).min(1, "password is required").max(128),
});

/** One readable sentence naming every problem, for a 400 answer. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.join(".");
      return field && !issue.message.startsWith(field)
        ? `${field}: ${issue.message}`
        : issue.message;
    })
    .join("; ");
}
