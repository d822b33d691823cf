import { describe, expect, it } from "vitest";
import { hashPassword, PBKDF2_ITERATIONS, timingSafeEqual, verifyPassword } from "./password";

describe("password hashing", () => {
  it("verifies the right password and rejects a wrong one", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash", async () => {
    const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
    expect(a).not.toBe(b);
  });

  it("keeps the iteration count with the hash and stays within the Workers limit", async () => {
    const cheap = await hashPassword("pw", 1000);
    expect(cheap.split("$")[1]).toBe("1000");
    expect(await verifyPassword("pw", cheap)).toBe(true);
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
  });

  it("never matches a malformed or over-expensive hash", async () => {
    const good = await hashPassword("pw", 1000);
    const [, , salt, hash] = good.split("$");
    for (const bad of [
      "",
      "plain-text",
      `bcrypt$1000$${salt}$${hash}`,
      `pbkdf2-sha256$abc$${salt}$${hash}`,
      `pbkdf2-sha256$1000000$${salt}$${hash}`,
      `pbkdf2-sha256$1000$$${hash}`,
      `pbkdf2-sha256$1000$${salt}$AAAA`,
      `pbkdf2-sha256$1000$${salt}$!!notbase64!!`,
    ]) {
      expect(await verifyPassword("pw", bad), bad).toBe(false);
    }
  });

  it("compares bytes without short-circuiting on length-equal inputs", () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
});
