import type { Task } from "../engine/task.ts";
import { fn } from "../engine/task.ts";
import { DEB_TASK } from "./release_deb.ts";
import { KEY_TASK } from "./release_signing.ts";

/** Placeholder until the APT publisher lands. */
export function aptTask(version: string): Task {
  return {
    id: "release:apt",
    deps: [DEB_TASK, KEY_TASK],
    params: { version },
    outputs: ["dist/apt"],
    action: fn(import.meta.url, async (ctx) => {
      await Deno.mkdir(ctx.path("dist/apt"), { recursive: true });
    }),
  };
}
