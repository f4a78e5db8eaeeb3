import assert from "node:assert/strict";
import {
  APT_CONFIG_INVALID,
  type AptRepoConfig,
  checkAptConfig,
  sourceDateEpoch,
} from "../../apt/mod.ts";

const good: AptRepoConfig = {
  root: "dist/apt",
  stateDir: ".kiln/apt",
  origin: "kiln",
  suites: [
    { name: "stable", codename: "kiln1", components: ["main"], architectures: ["amd64", "arm64"] },
    { name: "testing", components: ["main", "contrib"], architectures: ["amd64"] },
  ],
};

Deno.test("checkAptConfig() accepts a repository with several suites", () => {
  assert.equal(checkAptConfig(good), null);
});

Deno.test("checkAptConfig() names the problem in one line when the config is unusable", () => {
  const suite = good.suites[0];
  const cases: [Partial<AptRepoConfig>, RegExp][] = [
    [{ origin: "" }, /"origin" is empty/],
    [{ origin: "a\nb" }, /"origin" must be a single line/],
    [{ suites: [] }, /no suites/],
    [{ suites: [{ ...suite, name: "bad name" }] }, /suite name "bad name" is not a valid name/],
    [{ suites: [{ ...suite, architectures: ["all"] }] }, /architecture "all" is not a binary/],
    [{ suites: [{ ...suite, architectures: [] }] }, /has no architectures/],
    [{ suites: [{ ...suite, components: ["main", "main"] }] }, /lists a component twice/],
    [{ suites: [suite, { ...suite, codename: "x" }] }, /"stable" names two suites/],
    [{ suites: [suite, { ...suite, name: "kiln1", codename: "y" }] }, /"kiln1" names two suites/],
    [{ sourceDateEpoch: -1 }, /"sourceDateEpoch" must be whole seconds/],
    [{ validUntilDays: 0 }, /"validUntilDays" must be a positive number/],
    [{ root: "" }, /"root" is empty/],
  ];
  for (const [change, message] of cases) {
    const f = checkAptConfig({ ...good, ...change });
    assert.ok(f, `accepted ${JSON.stringify(change)}`);
    assert.equal(f.reason, APT_CONFIG_INVALID);
    assert.match(f.message, message);
    assert.match(f.message, /^APT repository config: /);
    assert.doesNotMatch(f.message, /\n|\.$/);
  }
});

Deno.test("sourceDateEpoch() reads SOURCE_DATE_EPOCH when it is whole seconds", () => {
  assert.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: "1700000000" }), 1_700_000_000);
  assert.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: "soon" }), undefined);
  assert.equal(sourceDateEpoch({}), undefined);
});
