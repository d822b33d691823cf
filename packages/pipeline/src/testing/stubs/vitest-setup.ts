/**
 * Fails a test whose requests a vendor would refuse, or whose stub answered what the vendor does
 * not document (contract.ts): the stubs record such violations, and this checks them after each
 * test and after each file (for requests made in `afterAll`). A test that provokes one on purpose
 * takes it from the stub's `violations` (`splice(0)`) and asserts on it.
 */
import { afterAll, afterEach } from "vitest";
import { describeViolations, takeViolations } from "./contract";

function check(): void {
  const found = takeViolations();
  if (found.length > 0) {
    throw new Error(
      `the vendors' documents refuse what this test did:\n${describeViolations(found)}`,
    );
  }
}

afterEach(check);
afterAll(check);
