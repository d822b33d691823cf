export * from "./users";
export * from "./sessions";
export * from "./entitlements";
export * from "./payments";
export * from "./stripe-events";
export * from "./login-attempts";
