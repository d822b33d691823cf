/**
 * The local host's workerd runtimes: one Miniflare per live environment, each on a loopback
 * port of its own. A sync compares what should run with what runs, and creates, updates or
 * disposes only the environments whose options changed, without failing a request (see Runtimes). An environment's options hold all that
 * it serves (its version's bundles and assets, its derived configs, its secrets and its
 * database), so equal options mean there is nothing to do for it.
 */
import { createHash } from "node:crypto";
import { connect } from "node:net";
// Miniflare itself is imported when a runtime starts: loading it takes 0.6 s, and every command
// that reads host.json (this module's importers) would pay it at start-up.
import type { Miniflare, MiniflareOptions } from "miniflare";
import { getByHost } from "../smoke";

export interface RuntimeSpec {
  /** The environment's name. */
  name: string;
  /** The hostnames its Workers answer on. */
  hostnames: string[];
  options: MiniflareOptions;
  /** What must answer (by Host header, on the runtime's own port) before it takes the route. */
  health?: { hostname: string; path: string };
  /**
   * Keep the runtime this one replaces started but unrouted (a warm standby) until the next
   * replacement, so that going back to it, a rollback, only moves the route: no workerd to start.
   * Production's, at the cost of one more runtime's memory.
   */
  standby?: boolean;
}

export interface RuntimePlan {
  create: string[];
  update: string[];
  dispose: string[];
}

export interface SyncResult extends RuntimePlan {
  /** Environments that could not be started or updated, and why; none of them is served. */
  failed: { name: string; error: string }[];
  /** Updated environments whose warm standby took the route (no runtime was started). */
  fromStandby: string[];
}

/** Options compared by digest, so that a runtime's secrets are not kept twice in clear. */
export function optionsDigest(options: MiniflareOptions): string {
  return createHash("sha256").update(JSON.stringify(options)).digest("hex");
}

/** What turns the runtimes `running` into `desired` (both: environment name to digest). */
export function planRuntimes(
  running: ReadonlyMap<string, string>,
  desired: ReadonlyMap<string, string>,
): RuntimePlan {
  const plan: RuntimePlan = { create: [], update: [], dispose: [] };
  for (const [name, digest] of desired) {
    const current = running.get(name);
    if (current === undefined) plan.create.push(name);
    else if (current !== digest) plan.update.push(name);
  }
  for (const name of running.keys()) if (!desired.has(name)) plan.dispose.push(name);
  return plan;
}

interface Runtime {
  miniflare: Miniflare;
  digest: string;
  port: number;
  hostnames: string[];
  /** What it was started with, to start it again alone if its workerd dies. */
  spec: RuntimeSpec;
  /** Requests the front server has forwarded to it and not yet finished. */
  inflight: number;
  /** Resolved whenever `inflight` drops to 0. */
  idle?: () => void;
}

/** How long a runtime that left the routes may finish its requests before it is stopped. */
export const DRAIN_TIMEOUT_MS = 30_000;
/** How long a new runtime has to answer its health check before it takes the route. */
const HEALTH_TIMEOUT_MS = 20_000;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Whether something accepts TCP connections on the loopback `port`. */
function listening(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Waits until a new runtime answers `health` (any HTTP answer from its Worker: whether that
 * answer is right is the smoke check's business, so that its report stays the one a user reads).
 */
async function answers(
  port: number,
  health: RuntimeSpec["health"],
  timeoutMs = HEALTH_TIMEOUT_MS,
): Promise<void> {
  if (!health) return;
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      await getByHost(port, health.hostname, health.path, Math.max(1, deadline - Date.now()));
      return;
    } catch (error) {
      last = message(error);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`its ${health.hostname}${health.path} did not answer (${last})`);
}

export interface RuntimeEvents {
  /** A runtime whose workerd died was started again (or could not be). */
  restarted?(name: string, error?: string): void;
}

/**
 * The runtimes, and the routes to them. Every change is blue/green: a new or updated environment
 * starts in a runtime of its own beside the old one and takes the route once it answers; the old
 * one (and a removed environment's) leaves the routes first and is stopped once the requests
 * forwarded to it are done. So no change fails a request, the changed environment's included.
 */
export class Runtimes {
  readonly #running = new Map<string, Runtime>();
  /** Hostname to environment, for the running runtimes only. */
  #routes = new Map<string, string>();
  /** Changes (syncs, restarts) one at a time. */
  #changes: Promise<unknown> = Promise.resolve();
  #watchdog: NodeJS.Timeout | undefined;
  readonly #restarting = new Set<string>();
  /** Replaced runtimes still finishing their requests (see #replace). */
  readonly #retiring = new Set<Runtime>();
  /** Replaced runtimes kept started, unrouted, for a spec with `standby` (see #replace). */
  readonly #standby = new Map<string, Runtime>();
  readonly #events: RuntimeEvents;

  constructor(events: RuntimeEvents = {}) {
    this.#events = events;
  }

  /**
   * The environment serving `hostname`, its runtime's port, and `release`, to call once the
   * request forwarded there is finished (a runtime being replaced is stopped after its last one).
   */
  target(hostname: string): { environment: string; port: number; release: () => void } | undefined {
    const environment = this.#routes.get(hostname);
    const runtime = environment === undefined ? undefined : this.#running.get(environment);
    if (environment === undefined || !runtime) return undefined;
    runtime.inflight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--runtime.inflight === 0) runtime.idle?.();
    };
    return { environment, port: runtime.port, release };
  }

  has(name: string): boolean {
    return this.#running.has(name);
  }

  /** The options digest of the runtime kept warm for `name`'s rollback, if any. */
  standbyDigest(name: string): string | undefined {
    return this.#standby.get(name)?.digest;
  }

  /**
   * Makes the running runtimes match `specs`. Environments are independent: one that fails to
   * start is reported in `failed` and the others go ahead; one that fails to update keeps serving
   * its previous version (reported in `failed` too, and tried again at the next sync).
   */
  sync(specs: RuntimeSpec[]): Promise<SyncResult> {
    return this.#serial(() => this.#sync(specs));
  }

  async #sync(specs: RuntimeSpec[]): Promise<SyncResult> {
    const desired = new Map(specs.map((spec) => [spec.name, spec]));
    const digests = new Map(specs.map((spec) => [spec.name, optionsDigest(spec.options)]));
    const plan = planRuntimes(
      new Map([...this.#running].map(([name, runtime]) => [name, runtime.digest])),
      digests,
    );
    const failed: SyncResult["failed"] = [];
    const fromStandby: string[] = [];
    // Unrouted first: a removed environment's hosts get the 404 page, its requests finish.
    const leaving = plan.dispose.flatMap((name) => [this.#forget(name), this.#unkeep(name)]);
    this.#reroute();
    const stopping = leaving.map((runtime) => runtime && this.#retire(runtime));
    await Promise.all(
      [...plan.create, ...plan.update].map(async (name) => {
        const spec = desired.get(name);
        const digest = digests.get(name);
        if (!spec || digest === undefined) return;
        try {
          if (await this.#replace(spec, digest)) fromStandby.push(name);
        } catch (error) {
          failed.push({ name, error: message(error) });
        }
      }),
    );
    await Promise.all(stopping);
    return { ...plan, failed, fromStandby };
  }

  /**
   * Starts `spec` in a new runtime beside the one serving it (if any), checks that it answers,
   * routes its hosts to it, then stops the old one once its requests are done. If the standby
   * kept for it runs these very options (a rollback), the standby takes the route instead, and
   * the runtime it replaces becomes the standby in turn (unless it `died`). Returns whether the
   * standby took the route.
   */
  async #replace(spec: RuntimeSpec, digest: string, died = false): Promise<boolean> {
    const standby = await this.#warmStandby(spec, digest);
    const next = standby ?? (await this.#start(spec, digest));
    const old = this.#running.get(spec.name);
    this.#running.set(spec.name, next);
    this.#reroute();
    if (!old || died) return Boolean(standby);
    if (spec.standby) {
      const previous = this.#unkeep(spec.name);
      if (previous) this.#retireInBackground(previous);
      this.#standby.set(spec.name, old);
      return Boolean(standby);
    }
    // The new version serves from here on: the old one drains and stops in the background, so
    // that the change (a deploy, a rollback) is done once the route has moved, not once the
    // requests still running on the old version (up to DRAIN_TIMEOUT_MS) are finished.
    this.#retireInBackground(old);
    return Boolean(standby);
  }

  async #start(spec: RuntimeSpec, digest: string): Promise<Runtime> {
    const { Miniflare } = await import("miniflare");
    const miniflare = new Miniflare(spec.options);
    try {
      const port = Number((await miniflare.ready).port);
      await answers(port, spec.health);
      return { miniflare, digest, port, hostnames: spec.hostnames, spec, inflight: 0 };
    } catch (error) {
      await miniflare.dispose().catch(() => {});
      throw error;
    }
  }

  /** The standby kept for `spec.name`, taken out, if it runs `digest` and still answers. */
  async #warmStandby(spec: RuntimeSpec, digest: string): Promise<Runtime | undefined> {
    const standby = this.#standby.get(spec.name);
    if (!standby || standby.digest !== digest) return undefined;
    this.#standby.delete(spec.name);
    // Its workerd may have died while it waited: then a new one is started, as without it.
    const ok =
      (await listening(standby.port, 500)) &&
      (await answers(standby.port, spec.health, 2_000).then(
        () => true,
        () => false,
      ));
    if (ok) return standby;
    this.#retireInBackground(standby);
    return undefined;
  }

  #retireInBackground(runtime: Runtime): void {
    this.#retiring.add(runtime);
    void this.#retire(runtime).finally(() => this.#retiring.delete(runtime));
  }

  /** Stops a runtime that is no longer routed, once its requests are done (or after a while). */
  async #retire(runtime: Runtime): Promise<void> {
    if (runtime.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
        runtime.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await runtime.miniflare.dispose().catch(() => {});
  }

  /**
   * Called when a runtime may have died (the front server could not connect to it): if nothing
   * listens on its port any more, it is started again alone, with the options it had.
   */
  async suspect(name: string): Promise<void> {
    const runtime = this.#running.get(name);
    if (!runtime || this.#restarting.has(name) || (await listening(runtime.port))) return;
    this.#restarting.add(name);
    await this.#serial(async () => {
      // A sync may have replaced or removed it meanwhile.
      if (this.#running.get(name) !== runtime) return;
      await runtime.miniflare.dispose().catch(() => {});
      try {
        await this.#replace(runtime.spec, runtime.digest, true);
        this.#events.restarted?.(name);
      } catch (error) {
        // Left routed: its requests get the front server's 502 and the next check tries again.
        this.#events.restarted?.(name, message(error));
      }
    }).finally(() => this.#restarting.delete(name));
  }

  /** Checks every `intervalMs` that each runtime still listens, restarting the ones that died. */
  watch(intervalMs = 2_000): void {
    clearInterval(this.#watchdog);
    this.#watchdog = setInterval(() => {
      for (const name of this.#running.keys()) void this.suspect(name);
    }, intervalMs);
    this.#watchdog.unref();
  }

  /** Stops every runtime (the host is shutting down). */
  async disposeAll(): Promise<void> {
    clearInterval(this.#watchdog);
    await this.#serial(async () => {
      const all = [...this.#running.keys()].map((name) => this.#forget(name));
      this.#reroute();
      // Those still draining too: the host is going, their requests with it.
      all.push(...this.#retiring, ...this.#standby.values());
      this.#retiring.clear();
      this.#standby.clear();
      await Promise.all(all.map((runtime) => runtime?.miniflare.dispose().catch(() => {})));
    });
  }

  #serial<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#changes.catch(() => {}).then(change);
    this.#changes = next;
    return next;
  }

  #forget(name: string): Runtime | undefined {
    const runtime = this.#running.get(name);
    this.#running.delete(name);
    return runtime;
  }

  /** Takes `name`'s standby out of keeping (to be stopped by the caller). */
  #unkeep(name: string): Runtime | undefined {
    const runtime = this.#standby.get(name);
    this.#standby.delete(name);
    return runtime;
  }

  #reroute(): void {
    const routes = new Map<string, string>();
    for (const [name, runtime] of this.#running) {
      for (const hostname of runtime.hostnames) routes.set(hostname, name);
    }
    this.#routes = routes;
  }
}
