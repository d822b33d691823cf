/**
 * The local host's workerd runtimes: one Miniflare per live environment, each on a loopback
 * port of its own. A sync compares what should run with what runs, and creates, updates or
 * disposes only the environments whose options changed. An environment's options hold all that
 * it serves (its version's bundles and assets, its derived configs, its secrets and its
 * database), so equal options mean there is nothing to do for it.
 */
import { createHash } from "node:crypto";
import { Miniflare, type MiniflareOptions } from "miniflare";

export interface RuntimeSpec {
  /** The environment's name. */
  name: string;
  /** The hostnames its Workers answer on. */
  hostnames: string[];
  options: MiniflareOptions;
}

export interface RuntimePlan {
  create: string[];
  update: string[];
  dispose: string[];
}

export interface SyncResult extends RuntimePlan {
  /** Environments that could not be started or updated, and why; none of them is served. */
  failed: { name: string; error: string }[];
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
}

export class Runtimes {
  readonly #running = new Map<string, Runtime>();
  /** Hostname to environment, for the running runtimes only. */
  #routes = new Map<string, string>();

  /** The environment serving `hostname` and its runtime's port, if it runs. */
  target(hostname: string): { environment: string; port: number } | undefined {
    const environment = this.#routes.get(hostname);
    const runtime = environment === undefined ? undefined : this.#running.get(environment);
    return environment !== undefined && runtime ? { environment, port: runtime.port } : undefined;
  }

  has(name: string): boolean {
    return this.#running.has(name);
  }

  /**
   * Makes the running runtimes match `specs`. Environments are independent: one that fails is
   * reported in `failed` and left stopped, and the others go ahead. Calls must not overlap.
   */
  async sync(specs: RuntimeSpec[]): Promise<SyncResult> {
    const desired = new Map(specs.map((spec) => [spec.name, spec]));
    const digests = new Map(specs.map((spec) => [spec.name, optionsDigest(spec.options)]));
    const plan = planRuntimes(
      new Map([...this.#running].map(([name, runtime]) => [name, runtime.digest])),
      digests,
    );
    const failed: SyncResult["failed"] = [];
    // Unrouted first: while a runtime stops, its hosts get the 404 page rather than an error.
    const leaving = plan.dispose.map((name) => this.#forget(name));
    this.#reroute();
    await Promise.all(leaving.map((runtime) => runtime?.miniflare.dispose().catch(() => {})));
    await Promise.all(
      [...plan.create, ...plan.update].map(async (name) => {
        const spec = desired.get(name);
        const digest = digests.get(name);
        if (!spec || digest === undefined) return;
        try {
          await this.#start(spec, digest);
        } catch (error) {
          failed.push({ name, error: error instanceof Error ? error.message : String(error) });
        }
      }),
    );
    this.#reroute();
    return { ...plan, failed };
  }

  /** Stops every runtime (the host is shutting down). */
  async disposeAll(): Promise<void> {
    const all = [...this.#running.keys()].map((name) => this.#forget(name));
    this.#reroute();
    await Promise.all(all.map((runtime) => runtime?.miniflare.dispose().catch(() => {})));
  }

  async #start(spec: RuntimeSpec, digest: string): Promise<void> {
    const existing = this.#running.get(spec.name);
    if (existing) {
      try {
        // setOptions restarts this environment's workerd only; Miniflare keeps its port.
        await existing.miniflare.setOptions(spec.options);
        existing.port = Number((await existing.miniflare.ready).port);
        existing.digest = digest;
        existing.hostnames = spec.hostnames;
      } catch (error) {
        // An update that failed half-way leaves the runtime in no known state: stop it.
        this.#forget(spec.name);
        await existing.miniflare.dispose().catch(() => {});
        throw error;
      }
      return;
    }
    const miniflare = new Miniflare(spec.options);
    try {
      const port = Number((await miniflare.ready).port);
      this.#running.set(spec.name, { miniflare, digest, port, hostnames: spec.hostnames });
    } catch (error) {
      await miniflare.dispose().catch(() => {});
      throw error;
    }
  }

  #forget(name: string): Runtime | undefined {
    const runtime = this.#running.get(name);
    this.#running.delete(name);
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
