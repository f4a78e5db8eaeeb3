/**
 * A repository for tests of the cloud builder: a bare origin (`acme/kiln` on the fake GitHub)
 * whose `main` holds a build workflow of the same shape as `.github/workflows/build-templates.yml`
 * (inputs `targets`, `keys`, `ref`, `request_id`; run-name `kiln <request_id>`; job `dispatch`
 * with a checkout step, a setup step and the step `id: build`), whose build step runs a fixture
 * script instead of kiln:
 *
 * - a target `fail` exits 3 (a failing step),
 * - `slow` starts `sleep 120` in the background, writes its pid to `$OUT/slow.pid` and waits
 *   (to cancel; a background job ignores SIGINT, so only the SIGKILL that follows ends it),
 * - `nap` sleeps a second (a step running long enough to be seen running),
 * - any other target appends `<target> <content of input.txt> CI=<CI> GITHUB_ACTIONS=<…>` to
 *   `$OUT/built.txt`.
 *
 * @module
 */

import { type GitOrigin, gitOrigin } from "./git_origin.ts";
import { type FakeGitHub, type FakeGitHubOptions, startFakeGitHub } from "./fake_github.ts";
import { removeTree } from "./workspace.ts";

/** The token the fake accepts. */
export const TOKEN = "ghp_fixture_token";

/** The fake's repository. */
export const REPO = { owner: "acme", name: "kiln" } as const;

/** A workflow of the real one's shape, whose build step runs `run`. */
export function fixtureWorkflow(run: string): string {
  return `name: Build templates
run-name: "kiln \${{ inputs.request_id || github.ref_name }}"
on:
  workflow_dispatch:
    inputs:
      targets:
        description: Task ids to build, space-separated
        required: true
        type: string
      keys:
        description: Task id -> the key kiln expects (JSON)
        required: false
        type: string
        default: "{}"
      ref:
        description: The commit to build
        required: true
        type: string
      request_id:
        description: Set by kiln to find its run
        required: false
        type: string
        default: ""
  push:
    branches: [main]
jobs:
  dispatch:
    if: github.event_name == 'workflow_dispatch'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ inputs.ref }}
      - uses: denoland/setup-deno@v2
      - name: Build
        id: build
        run: ${run}
`;
}

const SCRIPT = `set -eu
echo "building $* at $(git rev-parse HEAD) CI=$CI GITHUB_ACTIONS=$GITHUB_ACTIONS"
for t in "$@"; do
  case "$t" in
    fail) echo "task fail: exit 3" >&2; exit 3 ;;
    slow) sleep 120 & echo $! > "$OUT/slow.pid"; wait ;;
    nap) sleep 1 ;;
    *) echo "$t $(cat input.txt) CI=$CI GITHUB_ACTIONS=$GITHUB_ACTIONS" >> "$OUT/built.txt" ;;
  esac
done
`;

/** A test's repository and fake GitHub; dispose to stop the fake and remove both. */
export interface Rig extends AsyncDisposable {
  readonly git: GitOrigin;
  readonly gh: FakeGitHub;
  /** Where the fixture script writes (`$OUT`). */
  readonly out: string;
}

/** Starts a fake GitHub serving a fresh fixture repository. */
export async function startRig(
  o: Partial<Omit<FakeGitHubOptions, "repos">> = {},
  files: Record<string, string> = {},
): Promise<Rig> {
  const git = await gitOrigin("gh-", {
    ".github/workflows/build-templates.yml": fixtureWorkflow(
      "sh ci/build.sh ${{ inputs.targets }}",
    ),
    "ci/build.sh": SCRIPT,
    "input.txt": "v1\n",
    ...files,
  });
  const out = `${git.dir}/out`;
  Deno.mkdirSync(out);
  const gh = await startFakeGitHub({
    token: TOKEN,
    killGraceMs: 300,
    ...o,
    repos: { "acme/kiln": git.origin },
    env: { OUT: out, ...o.env },
  });
  const dispose = async () => {
    await gh.close();
    await removeTree(git.dir);
  };
  return { git, gh, out, [Symbol.asyncDispose]: dispose };
}
