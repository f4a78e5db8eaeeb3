/**
 * kiln's packer templates: where they live, the variables every one of them takes, what enters a
 * build task's cache key, and how a template is made ready for the installed packer.
 *
 * A template is a folder `packer/<id>/` holding `template.pkr.hcl` and an `http/` folder that
 * packer serves to the installer (autoinstall seed or kickstart). Templates carry no `packer {}`
 * block (packer 1.6 rejects `required_plugins`, packer 1.10 requires it) and no variable blocks
 * (declared once, in `packer/variables.pkr.hcl`): {@link prepareTemplate} copies the folder into a
 * fresh work folder with the variables file and adds `plugins.pkr.hcl` when the version needs it
 * (see `version.ts`).
 *
 * The variables a template takes, and the arguments that set them, are `template_vars.ts`.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import { detectPackerVersion, type PackerPlan, planFor, pluginsHcl } from "./version.ts";

export {
  type Accelerator,
  declaredVariables,
  TEMPLATE_VARIABLES,
  type TemplateVariable,
  templateVars,
  type TemplateVarsOptions,
} from "./template_vars.ts";

/** Absolute path of the repository: templates are looked up under `<root>/packer/`. */
export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The real distributions' templates (the offline demo lives in `packer/demo/`). */
export const REAL_TEMPLATE_IDS = [
  "ubuntu",
  "almalinux",
  "rockylinux",
  "centos-stream",
  "fedora",
] as const;

function checkId(id: string): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) {
    throw new Error(`template id ${JSON.stringify(id)} is not lowercase letters, digits and -`);
  }
}

/** Absolute path of template `id`'s folder. */
export function templateDir(id: string, root = REPO_ROOT): string {
  checkId(id);
  return `${root}/packer/${id}`;
}

function walkFiles(abs: string, rel: string, out: string[]): void {
  for (const e of Deno.readDirSync(abs)) {
    if (e.isDirectory) walkFiles(`${abs}/${e.name}`, `${rel}/${e.name}`, out);
    else if (e.isFile) out.push(`${rel}/${e.name}`);
    else throw new Error(`${abs}/${e.name}: templates hold only plain files and folders`);
  }
}

/**
 * Root-relative paths of the files in template `id`'s folder (the `.pkr.hcl` files and every
 * file under `http/`; the shared {@link variablesFile} comes on top), sorted: a build task lists them in `inputs`, so editing a kickstart
 * rebuilds the image. The `plugins.pkr.hcl` that {@link prepareTemplate} may add depends only on
 * the packer version, which the task declares as a tool (`packer version`).
 *
 * @example
 * ```ts
 * templateDigestInputs("ubuntu");
 * // ["packer/ubuntu/http/meta-data", "packer/ubuntu/http/user-data",
 * //  "packer/ubuntu/template.pkr.hcl"]
 * ```
 */
export function templateDigestInputs(id: string, root = REPO_ROOT): string[] {
  const out: string[] = [];
  walkFiles(templateDir(id, root), `packer/${id}`, out);
  return out.sort();
}

/** The file declaring the template variable contract, shared by every template. */
export function variablesFile(root = REPO_ROOT): string {
  return `${root}/packer/variables.pkr.hcl`;
}

/** A template copied into a work folder, ready for one packer version. */
export interface PreparedTemplate {
  /** The folder to pass to `packer validate` / `packer build` (packer reads every .pkr.hcl). */
  readonly dir: string;
  readonly plan: PackerPlan;
  /** The added `plugins.pkr.hcl`, or null when this packer must not see one. */
  readonly pluginsFile: string | null;
  /** Commands to run, in order, before validate or build (`packer init` when needed). */
  readonly setup: readonly (readonly string[])[];
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to);
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
    else throw new Error(`${from}/${e.name}: templates hold only plain files and folders`);
  }
}

/**
 * Copies template `id` into `workDir` (replacing whatever is there: the folder is the caller's
 * scratch space) with the shared `packer/variables.pkr.hcl` (the variable contract, declared
 * once) beside it, and adds what `plan` needs. The copy is assembled beside `workDir` and renamed
 * into place, so a failure leaves no half-prepared folder. A copy rather than links: packer
 * resolves `path.root` (the `http/` folder) from the folder it is given.
 *
 * @example
 * ```ts
 * const p = await prepareTemplate("ubuntu", ".kiln/work/ubuntu", planFor(version));
 * for (const cmd of p.setup) await ctx.exec([...cmd]);
 * await ctx.exec(["packer", "build", ...templateVars(opts), p.dir]);
 * ```
 */
export async function prepareTemplate(
  id: string,
  workDir: string,
  plan: PackerPlan,
  opts: { root?: string; packer?: string } = {},
): Promise<PreparedTemplate> {
  const source = templateDir(id, opts.root);
  const tmp = `${workDir}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await copyTree(source, tmp);
    await Deno.copyFile(variablesFile(opts.root), `${tmp}/variables.pkr.hcl`);
    if (plan.requiredPlugins) await Deno.writeTextFile(`${tmp}/plugins.pkr.hcl`, pluginsHcl());
    await Deno.remove(workDir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.rename(tmp, workDir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  const packer = opts.packer ?? "packer";
  return {
    dir: workDir,
    plan,
    pluginsFile: plan.requiredPlugins ? `${workDir}/plugins.pkr.hcl` : null,
    setup: plan.init ? [[packer, "init", workDir]] : [],
  };
}

/**
 * Environment kiln adds when it runs packer: no "out of date" check, which would call home (the
 * builds run offline, and the check slows every command).
 */
export const PACKER_ENV: Readonly<Record<string, string>> = { CHECKPOINT_DISABLE: "1" };

async function run(argv: readonly string[], cwd: string): Promise<Deno.CommandOutput> {
  return await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    env: { ...PACKER_ENV },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * Packer's complaint on one line: its first `Error: ...` paragraph with the explanation that
 * follows (packer wraps it at 80 columns), else its last paragraph.
 *
 * @example
 * ```ts
 * packerError('Error: Unset variable "x"\n\nA used variable must be set or have a default value;');
 * // 'Unset variable "x": A used variable must be set or have a default value;'
 * ```
 */
export function packerError(output: string): string {
  const paragraphs = output.split(/\n\s*\n/).map((p) => p.trim().split(/\s*\n\s*/).join(" "))
    .filter((p) => p !== "");
  const at = paragraphs.findIndex((p) => p.startsWith("Error:"));
  if (at < 0) return paragraphs.at(-1) ?? "no output";
  const head = paragraphs[at].replace(/^Error:\s*/, "");
  const detail = paragraphs.slice(at + 1).find((p) => !/^on .* line \d+/.test(p));
  return detail && !detail.startsWith("Error:") ? `${head}: ${detail}` : head;
}

/** Options of {@link validateTemplate}. */
export interface ValidateOptions {
  /** Repository root holding `packer/<id>/`; default this repository. */
  readonly root?: string;
  /** Scratch folder for the prepared copy; default a temporary folder, removed after. */
  readonly workDir?: string;
  /** The packer binary; default `packer` from PATH. */
  readonly packer?: string;
}

/**
 * Runs the real `packer validate` on template `id` with `vars` (from {@link templateVars}),
 * through a folder prepared for the installed packer: the check a template edit must pass before
 * a build is worth starting. `packer validate` checks syntax, the variable contract (an unknown
 * or missing variable fails) and the builder's options; it does not download the ISO.
 *
 * Fails with `packer-init-failed` or `packer-template-invalid`, the message quoting packer.
 */
export async function validateTemplate(
  id: string,
  vars: readonly string[],
  opts: ValidateOptions = {},
): Promise<void | Failure> {
  const packer = opts.packer ?? "packer";
  const version = await detectPackerVersion(packer);
  if ("reason" in version) return version;
  const scratch = opts.workDir ? null : await Deno.makeTempDir({ prefix: `kiln-packer-${id}-` });
  const workDir = opts.workDir ?? `${scratch}/template`;
  try {
    const prepared = await prepareTemplate(id, workDir, planFor(version), {
      root: opts.root,
      packer,
    });
    for (const cmd of prepared.setup) {
      const out = await run(cmd, prepared.dir);
      if (!out.success) {
        return failure(
          "packer-init-failed",
          `Packer init failed for template "${id}" ("${cmd.join(" ")}"): ${
            packerError(decode(out))
          }; check network access to the plugin's source or preinstall it`,
        );
      }
    }
    const out = await run([packer, "validate", ...vars, prepared.dir], prepared.dir);
    if (!out.success) {
      return failure(
        "packer-template-invalid",
        `Template "${id}" is invalid for packer ${version.text}: ${
          packerError(decode(out))
        }; fix packer/${id}/template.pkr.hcl or the variables`,
      );
    }
  } finally {
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

function decode(out: Deno.CommandOutput): string {
  const d = new TextDecoder();
  return d.decode(out.stderr) + "\n" + d.decode(out.stdout);
}
